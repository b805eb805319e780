"""docs/CONFORMANCE.md cannot drift from the code: its generated tables are
what app/net/conformance.py renders from the constants the network code
negotiates with, every UID it names is one the code uses, the SOP classes
the code proposes anywhere are in its tables, and the listener answers a
real association (ours, and DCMTK's echoscu) as the statement says."""

from __future__ import annotations

import ast
import importlib
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from app.accounts import accounts
from app.deid import table as deid_table
from app.dicom.meta import IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME
from app.home import os_login
from app.net import association, conformance, nodes, wire
from app.net.association import Proposal
from app.net.listener import Listener

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "CONFORMANCE.md"
UID_TEXT = re.compile(r"(?<![\w.])[12](?:\.\d+){3,}(?![\w.])")
REFRESH = ("render the tables again: python -c \"from pathlib import Path; from app.net import conformance as c; "
           "p = Path('docs/CONFORMANCE.md'); p.write_text(c.refresh(p.read_text()))\"")


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


def other_layers_uids() -> set[str]:
    """UIDs of media and changes (a layer above app.net), read here."""
    from pydicom.uid import MediaStorageDirectoryStorage

    from app.changes import iocm
    from app.media import dicomdir, stage

    assert dicomdir.MediaStorageDirectoryStorage == MediaStorageDirectoryStorage
    return {str(MediaStorageDirectoryStorage), stage.EXPLICIT, *stage.REENCODED, iocm.KOS_SOP_CLASS}


def test_generated_tables_are_what_the_code_says(doc):
    found, rendered = conformance.found_blocks(doc), conformance.blocks()
    assert set(found) == set(rendered), "a generated block is missing or unknown: " + REFRESH
    for name, text in rendered.items():
        assert found[name] == text, f"block {name!r} differs from the code: {REFRESH}"


def test_every_uid_in_the_document_is_one_the_code_uses(doc):
    known = conformance.uids() | other_layers_uids()
    named = set(UID_TEXT.findall(doc))
    assert named, "no UID found: the pattern is wrong"
    assert named - known == set()


def test_names_everything_the_code_uses(doc):
    policy = conformance.Policy()
    must = {IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME, str(wire.OUR_MAX_PDU),
            association.APPLICATION_CONTEXT, *conformance.storage_classes(), *conformance.ALL_SYNTAXES,
            *conformance.COMPRESSED, *conformance.UNCOMPRESSED, *conformance.Q_R_MODELS,
            f"| {policy.max_connections} |", f"| {policy.artim:g} |", "STD-GEN-CD"}
    for context in conformance.scu_contexts() + conformance.scp_contexts():
        if context.abstract != conformance.STORAGE:
            must.add(context.abstract)
    info = deid_table.profile_info()
    must |= {info["name"], info["code"], "PS3.15"}
    for option in deid_table.all_options():
        must |= {option.name, option.code, option.meaning}
    must |= other_layers_uids()
    missing = sorted(m for m in must if m not in doc)
    assert missing == []


def test_media_words_match_the_media_code(doc):
    """The disc profiles the burn may name are the ones the statement names."""
    decompress = pytest.importorskip("app.media.decompress")
    for medium in (None, "cd", "dvd", "bd"):
        for syntaxes in ([], ["1.2.840.10008.1.2.4.50"], ["1.2.840.10008.1.2.4.90"]):
            named = decompress.profile(syntaxes, medium)
            assert not named or named in doc, named
    assert "--keep-compressed" in doc


def test_rejection_note_titles_are_named(doc):
    from app.changes import iocm

    for code, meaning in iocm.REJECTION_TITLES.items():
        assert f"({code}, DCM, \"{meaning}\")" in doc.replace("\n", " ")


def _proposal_calls():
    """(module, first argument, second argument) of every Proposal(...) in app/net."""
    for path in sorted((ROOT / "app" / "net").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Proposal" and node.args:
                yield module, node.args[0], node.args[1] if len(node.args) > 1 else None


def test_every_proposal_in_the_code_is_in_the_tables():
    """A new Proposal(SOME_CLASS, SYNTAXES) anywhere in app/net must be in
    the SCU table, or this fails until conformance.scu_contexts says it."""
    tabled = {(c.abstract, ts) for c in conformance.scu_contexts() for ts in c.syntaxes}
    tabled_classes = {a for a, _ in tabled}
    checked = 0
    for module, abstract, syntaxes in _proposal_calls():
        globals_ = vars(importlib.import_module(module))
        if isinstance(abstract, ast.Name) and abstract.id.isupper():  # a named SOP class constant
            uid = globals_[abstract.id]
            assert uid in tabled_classes, f"{module}: {abstract.id} ({uid}) is proposed but not in the table"
            allowed = {ts for a, ts in tabled if a == uid}
        else:  # the SOP class of an instance: a storage class
            allowed = {ts for a, ts in tabled if a == conformance.STORAGE} | set(conformance.ALL_SYNTAXES)
        if isinstance(syntaxes, ast.Name):
            assert {str(t) for t in globals_[syntaxes.id]} <= allowed, f"{module}: {syntaxes.id}"
        checked += 1
    assert checked >= 8  # echo, find x3, mwl, get, move, get storage, send


def test_listener_choices_follow_the_tables():
    for context in conformance.scp_contexts():
        if context.role != "SCP":
            continue
        abstract = "1.2.840.10008.5.1.4.1.1.2" if context.abstract == conformance.STORAGE else context.abstract
        syntaxes = conformance.ALL_SYNTAXES if context.syntaxes == ("any",) else context.syntaxes
        for ts in syntaxes:
            assert conformance.accepted_choice(abstract, [ts]) == ts, (abstract, ts)
    # not in the SCP table: refused (abstract syntax not supported)
    from app.net.client import MWL_FIND

    assert conformance.accepted_choice(MWL_FIND, list(conformance.UNCOMPRESSED)) == 3
    # a Q/R model proposed compressed only: transfer syntaxes not supported
    assert conformance.accepted_choice(conformance.Q_R_MODELS[0], list(conformance.COMPRESSED)) == 4


@pytest.fixture
def listener(home, free_port):
    db = home.connect()
    try:
        admin = accounts.get_user(db, os_login())
        nodes.add_node(db, admin, "peer", "CONFPEER", "127.0.0.1", 104)
    finally:
        db.close()
    with Listener(home, admin.name, free_port(), host="127.0.0.1") as running:
        yield running


@pytest.mark.network
def test_the_listener_accepts_what_the_statement_says(listener):
    """An association of ours proposing each SCP row, a storage class, and
    two contexts the statement does not accept."""
    from app.net.client import MWL_FIND

    ct = "1.2.840.10008.5.1.4.1.1.2"
    proposals = [Proposal(c.abstract, list(c.syntaxes)) for c in conformance.scp_contexts()
                 if c.role == "SCP" and c.abstract != conformance.STORAGE]
    proposals += [Proposal(ct, list(conformance.COMPRESSED[:1])), Proposal(MWL_FIND, list(conformance.UNCOMPRESSED)),
                  Proposal(conformance.Q_R_MODELS[0], list(conformance.COMPRESSED))]
    with association.request("127.0.0.1", listener.port, "CONFPEER", listener.aet, proposals) as assoc:
        accepted = {abstract for abstract, _ in assoc.contexts.values()}
        assert assoc.transfer_syntaxes(ct) == {conformance.COMPRESSED[0]: 2 * len(proposals) - 5}
    assert accepted == {p.abstract_syntax for p in proposals[:-3]} | {ct}


@pytest.mark.network
def test_dcmtk_sees_the_stated_implementation(listener):
    """echoscu's debug log of our A-ASSOCIATE-AC: the implementation class
    UID, version name and maximum PDU the statement gives."""
    if shutil.which("echoscu") is None:
        pytest.skip("not installed: echoscu (scripts/setup.sh --tests installs it)")
    run = subprocess.run(["echoscu", "-d", "-aet", "CONFPEER", "-aec", listener.aet, "127.0.0.1",
                          str(listener.port)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr + run.stdout
    log = run.stdout + run.stderr
    answer = log[log.index("A-ASSOCIATE-AC"):]
    assert re.search(r"Their Implementation Class UID:\s+" + re.escape(IMPLEMENTATION_CLASS_UID), answer)
    assert re.search(r"Their Implementation Version Name:\s+" + re.escape(IMPLEMENTATION_VERSION_NAME), answer)
    assert re.search(rf"Their Max PDU Receive Size:\s+{wire.OUR_MAX_PDU}\b", answer)
