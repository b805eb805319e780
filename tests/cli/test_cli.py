"""The command-line contract (shared/CLI.md): JSON keys and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.factories import ct_dataset, write, write_series

STUDY_KEYS = {"study_uid", "patient_id", "patient_name", "study_date", "accession", "modalities",
              "description", "series_count", "instance_count", "assigned_to", "locked_by", "staged"}


def studydesk(home: Path, *args: str, user: str | None = None, stdin: str = "",
              env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("STUDYDESK_")}
    full_env.update(env or {})
    cmd = [sys.executable, "-m", "app", "--home", str(home)]
    if user:
        cmd += ["--user", user]
    return subprocess.run(cmd + list(args), capture_output=True, text=True, input=stdin,
                          env=full_env, timeout=120)


def as_json(proc: subprocess.CompletedProcess):
    assert proc.stdout.strip(), proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture
def corpus(tmp_path):
    """A folder of good, broken and zipped files, as a new user would bring."""
    folder = tmp_path / "corpus"
    write_series(folder / "ct", 3, patient_id="P1", patient_name="DOE^JOHN", study="a",
                 accession="ACC1", study_date="20240115", phone="555-0100", confidentiality="VIP")
    (folder / "broken.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"\x02\x00\x10")
    (folder / "report.pdf").write_bytes(b"%PDF-1.4 not an image")
    cut = write(ct_dataset(patient_id="P2", number=9), folder / "cut.dcm")
    cut.write_bytes(cut.read_bytes()[:-200])
    zipped = write_series(tmp_path / "z", 2, patient_id="P3", patient_name="SMITH^ANNA", study="z",
                          accession="ACC3", study_date="20230301")
    with zipfile.ZipFile(folder / "archive.zip", "w") as z:
        for p in zipped:
            z.write(p, f"study/{p.name}")
        z.writestr("../../escape.dcm", zipped[0].read_bytes())
    return folder


def test_init_prints_the_home(tmp_path):
    proc = studydesk(tmp_path / "h", "init", "--json")
    assert proc.returncode == 0
    assert as_json(proc) == {"home": str((tmp_path / "h").resolve())}


def test_import_of_a_mixed_folder(tmp_path, corpus):
    home = tmp_path / "h"
    proc = studydesk(home, "import", str(corpus), "--json")
    assert proc.returncode == 6, proc.stderr
    doc = as_json(proc)
    assert set(doc) == {"imported", "duplicates", "rejected", "studies"}
    assert doc["imported"] == 5 and doc["duplicates"] == 0 and len(doc["studies"]) == 2
    reasons = {r["path"]: r["reason"] for r in doc["rejected"]}
    assert set(reasons) == {str(corpus / "broken.dcm"), str(corpus / "report.pdf"),
                            str(corpus / "cut.dcm"), f"{corpus / 'archive.zip'}:../../escape.dcm"}
    assert reasons[str(corpus / "cut.dcm")].startswith("truncated")
    assert reasons[str(corpus / "report.pdf")].startswith("not DICOM")
    assert "unsafe member name" in reasons[f"{corpus / 'archive.zip'}:../../escape.dcm"]
    # each refusal named on stderr, one line each
    for path in reasons:
        assert path in proc.stderr
    # nothing written outside the home
    assert not (tmp_path / "escape.dcm").exists() and not (corpus.parent / "escape.dcm").exists()
    again = studydesk(home, "import", str(corpus / "ct"), "--json")
    assert again.returncode == 0 and as_json(again)["duplicates"] == 3


def test_import_of_nothing_but_bad_files_is_refused(tmp_path):
    (tmp_path / "x.txt").write_text("hello")
    proc = studydesk(tmp_path / "h", "import", str(tmp_path / "x.txt"), "--json")
    assert proc.returncode == 5
    assert as_json(proc)["rejected"][0]["reason"].startswith("not DICOM")


def test_link_mode(tmp_path, corpus):
    proc = studydesk(tmp_path / "h", "import", "--link", str(corpus / "ct"), "--json")
    assert proc.returncode == 0 and as_json(proc)["imported"] == 3
    assert not list((tmp_path / "h" / "store").rglob("*.dcm"))


@pytest.fixture
def loaded(tmp_path, corpus):
    home = tmp_path / "h"
    assert studydesk(home, "import", str(corpus)).returncode == 6
    return home


def test_studies_json_and_qbe(loaded):
    rows = as_json(studydesk(loaded, "studies", "--json"))
    assert len(rows) == 2 and all(STUDY_KEYS <= set(r) for r in rows)
    doe = as_json(studydesk(loaded, "studies", "--patient-name", "doe*", "--json"))
    assert [r["accession"] for r in doe] == ["ACC1"]
    assert doe[0]["modalities"] == ["CT"] and doe[0]["instance_count"] == 3
    assert as_json(studydesk(loaded, "studies", "--patient-name", "anna", "--json"))[0]["patient_id"] == "P3"
    ranged = as_json(studydesk(loaded, "studies", "--date-from", "20240101", "--date-to", "20241231", "--json"))
    assert [r["accession"] for r in ranged] == ["ACC1"]
    assert as_json(studydesk(loaded, "studies", "--accession", "acc?", "--modality", "ct", "--json"))
    bad = studydesk(loaded, "studies", "--date-from", "2024-01-01")
    assert bad.returncode == 2 and "--date-from" in bad.stderr


def test_series_and_uid_prefix(loaded):
    uid = as_json(studydesk(loaded, "studies", "--accession", "ACC1", "--json"))[0]["study_uid"]
    series = as_json(studydesk(loaded, "series", uid[:-4], "--json"))
    assert len(series) == 1
    assert set(series[0]) >= {"series_uid", "modality", "number", "description", "instance_count"}
    missing = studydesk(loaded, "series", "1.2.3.4.5.6.7.8.9")
    assert missing.returncode == 4 and "not in the cache" in missing.stderr


def test_patient_card(loaded):
    card = as_json(studydesk(loaded, "patient", "P1", "--json"))
    assert set(card) >= {"patient_id", "name", "sex", "birth_date", "phone", "confidentiality",
                         "appointments", "study_count"}
    assert (card["name"], card["phone"], card["confidentiality"], card["study_count"]) == \
        ("DOE^JOHN", "555-0100", "VIP", 1)
    text = studydesk(loaded, "patient", "P1")
    assert "555-0100" in text.stdout and "VIP" in text.stdout
    assert studydesk(loaded, "patient", "NOBODY").returncode == 4


def test_users_privileges_and_passwords(tmp_path):
    home = tmp_path / "h"
    added = studydesk(home, "user", "add", "rad1", "--role", "radiologist", "--json")
    assert added.returncode == 0 and as_json(added)["roles"] == ["radiologist"]
    assert studydesk(home, "user", "add", "eve", "--role", "admin", user="rad1").returncode == 3
    assert studydesk(home, "studies", user="stranger").returncode == 3
    assert studydesk(home, "user", "add", "pw", "--role", "clerk", "--password",
                     stdin="hunter2\n").returncode == 0
    assert studydesk(home, "studies", user="pw").returncode == 3
    assert studydesk(home, "studies", user="pw", env={"STUDYDESK_PASSWORD": "nope"}).returncode == 3
    assert studydesk(home, "studies", user="pw", env={"STUDYDESK_PASSWORD": "hunter2"}).returncode == 0
    users = as_json(studydesk(home, "user", "list", "--json"))
    assert {u["name"]: u["password"] for u in users}["pw"] is True
    assert studydesk(home, "user", "add", "x", "--role", "wizard").returncode == 2


def test_audit_trail_and_verify(loaded):
    entries = as_json(studydesk(loaded, "audit", "--json"))
    assert all({"time", "user", "action", "outcome", "objects"} <= set(e) for e in entries)
    imports = [e for e in entries if e["action"] == "import"]
    assert imports and imports[0]["event_code"] == "110107" and imports[0]["outcome"] == "minor failure"
    uid = imports[0]["objects"][0]
    assert as_json(studydesk(loaded, "audit", "--study", uid, "--json"))
    assert studydesk(loaded, "audit", "--verify").returncode == 0
    import sqlite3
    conn = sqlite3.connect(loaded / "cache.sqlite")
    conn.execute("UPDATE audit SET user = 'someone-else' WHERE action = 'import'")
    conn.commit()
    conn.close()
    broken = studydesk(loaded, "audit", "--verify")
    assert broken.returncode == 5 and "audit entry" in broken.stderr


def test_config_set_and_get(tmp_path):
    home = tmp_path / "h"
    assert studydesk(home, "config", "set", "aet", "WS1").returncode == 0
    assert studydesk(home, "config", "set", "port", "11113").returncode == 0
    assert as_json(studydesk(home, "config", "get", "port", "--json")) == {"port": 11113}
    assert studydesk(home, "config", "get", "aet").stdout.strip() == "WS1"
    assert studydesk(home, "config", "set", "port", "abc").returncode == 2
    assert studydesk(home, "config", "get", "nothing").returncode == 4
    studydesk(home, "user", "add", "c1", "--role", "clerk")
    assert studydesk(home, "config", "set", "aet", "X", user="c1").returncode == 3


def test_json_goes_alone_on_stdout(loaded):
    proc = studydesk(loaded, "--json", "studies")
    json.loads(proc.stdout)
    assert proc.returncode == 0


def test_unknown_command_is_bad_usage(tmp_path):
    assert studydesk(tmp_path / "h", "frobnicate").returncode == 2


def test_acting_user_from_the_environment(tmp_path):
    home = tmp_path / "h"
    studydesk(home, "user", "add", "clerk1", "--role", "clerk")
    proc = studydesk(home, "user", "add", "x", "--role", "clerk", env={"STUDYDESK_USER": "clerk1"})
    assert proc.returncode == 3 and "clerk1" in proc.stderr
