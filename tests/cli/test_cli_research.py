"""Research commands of the contract: project create/enrol/find, rt-tree."""

from __future__ import annotations

from tests.cli.test_cli import as_json, studydesk


def test_project_find_and_bulk(tmp_path):
    home = tmp_path / "h"
    assert as_json(studydesk(home, "project", "create", "TRIAL", "--json")) == {"project": "TRIAL"}
    for n in range(1, 13):
        assert studydesk(home, "project", "enrol", "TRIAL", "--patient-id", f"C{n}", "--pid",
                         f"xId{n:02d}", "--subject", f"yId{n:02d}").returncode == 0
    hits = as_json(studydesk(home, "project", "find", "TRIAL", "Id", "--json"))
    assert len(hits) == 10 and set(hits[0]) == {"pid", "subject", "patient_id"}
    bulk = studydesk(home, "project", "find", "TRIAL", "--bulk", "yId01, yId02, zz", "--json")
    assert [h["pid"] for h in as_json(bulk)] == ["xId01", "xId02"]
    assert "no subject matches zz" in bulk.stderr
    assert studydesk(home, "project", "find", "NOPE", "x").returncode == 4
    assert studydesk(home, "project", "enrol", "TRIAL", "--patient-id", "C1", "--pid", "p",
                     "--subject", "s").returncode == 2


def test_rt_tree_json(tmp_path):
    home = tmp_path / "h"
    studydesk(home, "demo", "--patients", "1")
    (study,) = as_json(studydesk(home, "studies", "--json"))
    tree = as_json(studydesk(home, "rt-tree", study["study_uid"], "--json"))
    (ct,) = tree
    assert set(ct) >= {"series_uid", "modality", "label", "approval", "children"}
    plans = ct["children"][0]["children"]
    assert sorted(p["approval"] for p in plans) == ["APPROVED", "UNAPPROVED"]
    assert all(p["children"][0]["modality"] == "RTDOSE" for p in plans)


def test_stage_and_staging_contract(tmp_path):
    home = tmp_path / "h"
    studydesk(home, "demo", "--patients", "1")
    studydesk(home, "project", "create", "P")
    (study,) = as_json(studydesk(home, "studies", "--json"))
    series = as_json(studydesk(home, "series", study["study_uid"], "--json"))
    (dose,) = [s["series_uid"] for s in series if s["modality"] == "RTDOSE" and "A" in s["description"]]
    refused = studydesk(home, "stage", "P", dose)
    assert refused.returncode == 5 and "not enrolled" in refused.stderr
    studydesk(home, "project", "enrol", "P", "--patient-id", study["patient_id"], "--pid", "xId01",
              "--subject", "yId01")
    staged = as_json(studydesk(home, "stage", "P", dose, "--with-references", "--json"))
    assert len(staged["staged"]) == 4 and staged["skipped"] == []
    rows = as_json(studydesk(home, "staging", "P", "--patient-id", study["patient_id"], "--json"))
    assert set(rows[0]) >= {"series_uid", "staged", "instances", "staged_instances", "state"}
    assert sum(r["staged"] for r in rows) == 4
    assert as_json(studydesk(home, "studies", "--json"))[0]["staged"] is True
    again = as_json(studydesk(home, "stage", "P", dose, "--with-references", "--json"))
    assert again["staged"] == [] and len(again["skipped"]) == 4
    out = tmp_path / "p.zip"
    assert studydesk(home, "project", "export", "P", "--zip", str(out)).returncode == 0 and out.exists()


def test_stage_warns_about_a_plan_not_approved_as_the_window_does(tmp_path):
    """The research dialog asks before staging a plan that is not APPROVED (or
    a dose of one); the command line says so on stderr and stages."""
    home = tmp_path / "h"
    studydesk(home, "demo", "--patients", "1")
    studydesk(home, "project", "create", "P")
    (study,) = as_json(studydesk(home, "studies", "--json"))
    studydesk(home, "project", "enrol", "P", "--patient-id", study["patient_id"], "--pid", "xId01",
              "--subject", "yId01")
    tree = as_json(studydesk(home, "rt-tree", study["study_uid"], "--json"))
    plans = {p["approval"]: p for p in tree[0]["children"][0]["children"]}
    approved, unapproved = plans["APPROVED"], plans["UNAPPROVED"]

    quiet = studydesk(home, "stage", "P", approved["children"][0]["series_uid"], "--json")
    assert quiet.returncode == 0 and "not approved" not in quiet.stderr
    assert as_json(quiet)["unapproved"] == []

    dose = unapproved["children"][0]["series_uid"]
    warned = studydesk(home, "stage", "P", dose[:16], "--json")
    assert warned.returncode == 0, warned.stderr
    assert "not approved for treatment" in warned.stderr
    assert f"plan \u201c{unapproved['label']}\u201d is UNAPPROVED" in warned.stderr
    document = as_json(warned)
    assert document["staged"] == [dose]  # the warning does not stop the staging
    assert [(u["series_uid"], u["approval"]) for u in document["unapproved"]] == [(dose, "UNAPPROVED")]
