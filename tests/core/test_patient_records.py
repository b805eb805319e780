"""One patient ID, several records (issuers): the card shows every record,
the command line names one as PID^^^ISSUER or with --issuer, and a refused
import never adds a record to the ID."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.worklist import query as worklist
from app.cli import main
from app.errors import BadInput, NotFound
from app.home import os_login
from app.importing.importer import import_paths
from tests.factories import ct_dataset, write


def _file(tmp_path: Path, folder: str, issuer: str | None, **kwargs) -> Path:
    ds = ct_dataset(**kwargs)
    if issuer is not None:
        ds.IssuerOfPatientID = issuer
    return write(ds, tmp_path / folder / f"{ds.SOPInstanceUID}.dcm")


def run(home, capsys, *args: str) -> tuple[int, object, str]:
    code = main(["--home", str(home.root), *args])
    out = capsys.readouterr()
    document = json.loads(out.out) if "--json" in args and out.out.strip() else out.out
    return code, document, out.err


@pytest.fixture
def two_records(home, tmp_path):
    """PR1 at HOSP (VIP, phone, two studies) and PR1 without an issuer (one study)."""
    for study in ("h1", "h2"):
        _file(tmp_path, "hosp", "HOSP", patient_id="PR1", patient_name="ROSS^RITA", study=study,
              phone="555-0101", confidentiality="VIP")
    _file(tmp_path, "bare", None, patient_id="PR1", patient_name="ROSS^RITA", study="b1")
    result = import_paths(home, [tmp_path / "hosp", tmp_path / "bare"], os_login())
    assert (result.imported, result.rejected) == (3, [])
    return home


def test_the_card_shows_every_record(two_records):
    db = two_records.connect()
    card = worklist.patient_card(db, "PR1")
    db.close()
    # the top level: the record with the most studies, as the contract has it
    assert (card["issuer"], card["confidentiality"], card["phone"], card["study_count"]) == \
        ("HOSP", "VIP", "555-0101", 2)
    assert [(r["issuer"], r["study_count"], r["confidentiality"]) for r in card["records"]] == \
        [("HOSP", 2, "VIP"), ("", 1, "")]


def test_an_issuer_names_one_record(two_records):
    db = two_records.connect()
    try:
        assert worklist.patient_card(db, "PR1^^^HOSP")["records"][0]["issuer"] == "HOSP"
        bare = worklist.patient_card(db, "PR1^^^")
        assert (bare["issuer"], bare["study_count"], len(bare["records"])) == ("", 1, 1)
        assert worklist.patient_card(db, "PR1", issuer="")["study_count"] == 1
        assert worklist.parse_patient_ref("PR1^^^HOSP") == ("PR1", "HOSP")
        assert worklist.parse_patient_ref("PR1^^^HOSP^PI") == ("PR1", "HOSP")
        with pytest.raises(NotFound, match=r"PR1 with issuer ELSEWHERE.*issuers \(none\), HOSP"):
            worklist.patient_card(db, "PR1^^^ELSEWHERE")
        with pytest.raises(BadInput, match=r"several records.*PR1\^\^\^ISSUER"):
            worklist.one_patient_record(db, "PR1")
    finally:
        db.close()


def test_patient_command_with_several_records(two_records, capsys):
    code, card, err = run(two_records, capsys, "patient", "PR1", "--json")
    assert code == 0
    assert set(card) >= {"patient_id", "name", "sex", "birth_date", "phone", "confidentiality",
                         "appointments", "study_count"}
    assert (card["confidentiality"], card["study_count"], len(card["records"])) == ("VIP", 2, 2)
    assert "2 records" in err
    code, text, _ = run(two_records, capsys, "patient", "PR1")
    assert "2 records (issuers HOSP, (none))" in text and "Record 2 of 2: issuer (none)" in text
    assert text.count("Confidentiality:") == 2 and "VIP" in text
    code, card, _ = run(two_records, capsys, "patient", "PR1^^^", "--json")
    assert (code, card["issuer"], card["study_count"], len(card["records"])) == (0, "", 1, 1)
    code, card, _ = run(two_records, capsys, "patient", "PR1", "--issuer", "HOSP", "--json")
    assert (code, card["issuer"], card["study_count"]) == (0, "HOSP", 2)
    code, _, err = run(two_records, capsys, "patient", "PR1", "--issuer", "NOWHERE")
    assert code == 4 and "issuers (none), HOSP" in err


def test_merge_patients_names_the_records_by_issuer(two_records, capsys):
    code, _, err = run(two_records, capsys, "merge-patients", "PR1", "PR1")
    assert code == 2 and "several records" in err and "PR1^^^ISSUER" in err
    code, _, err = run(two_records, capsys, "merge-patients", "PR1^^^", "PR1", "--dest-issuer", "HOSP",
                       "--reason", "same person")
    assert code == 0, err
    db = two_records.connect()
    card = worklist.patient_card(db, "PR1")
    db.close()
    assert (len(card["records"]), card["issuer"], card["study_count"]) == (1, "HOSP", 3)


def test_a_refused_import_leaves_the_vip_card_and_merge_working(home, tmp_path, capsys):
    """The issue's path: a VIP at HOSP, then a file naming the VIP's study
    with the same ID and no issuer: refused, and nothing else changes."""
    _file(tmp_path, "vip", "HOSP", patient_id="PV9", patient_name="VIP^VERA", study="v",
          phone="555-0199", confidentiality="VIP")
    _file(tmp_path, "other", None, patient_id="PO9", patient_name="VIP^VERA", study="o")
    import_paths(home, [tmp_path / "vip", tmp_path / "other"], os_login())
    _file(tmp_path, "late", None, patient_id="PV9", patient_name="VIP^VERA", study="v", number=2)
    code, result, err = run(home, capsys, "import", str(tmp_path / "late"), "--json")
    assert code == 5 and "another patient" in err and result["imported"] == 0
    code, card, _ = run(home, capsys, "patient", "PV9", "--json")
    assert (card["confidentiality"], card["phone"], card["study_count"], len(card["records"])) == \
        ("VIP", "555-0199", 1, 1)
    code, _, err = run(home, capsys, "merge-patients", "PO9", "PV9", "--reason", "same person")
    assert code == 0, err
