"""`share` and `studies --shared-with` from the command line, as a new user
would try them: the recipient sees the study with who shared it and the note;
unknown users and studies, sharing with oneself and a user without the
privilege are refused with their exit codes, nothing written, and audited."""

from __future__ import annotations

import pytest

from tests.cli.test_cli import as_json, studydesk
from tests.factories import write_series


@pytest.fixture
def loaded(tmp_path):
    src = tmp_path / "src"
    write_series(src, 2, patient_id="P1", patient_name="DOE^JOHN", study="a", accession="A1")
    write_series(src, 1, patient_id="P2", patient_name="ROE^RICHARD", study="b", accession="A2")
    home = tmp_path / "h"
    assert studydesk(home, "import", str(src)).returncode == 0
    for name, role in (("rita", "radiologist"), ("carl", "clerk"), ("rex", "researcher")):
        assert studydesk(home, "user", "add", name, "--role", role).returncode == 0
    uids = {r["accession"]: r["study_uid"] for r in as_json(studydesk(home, "studies", "--json"))}
    return home, uids


def test_a_shared_study_shows_for_the_recipient_with_who_and_the_note(loaded):
    home, uid = loaded
    assert as_json(studydesk(home, "studies", "--shared-with", "rita", "--json")) == []
    done = studydesk(home, "share", uid["A1"][:40], "--with", "rita", "--note", "second opinion, left lung",
                     "--json", user="carl")
    assert done.returncode == 0, done.stderr
    assert as_json(done)["shared"] == [uid["A1"]] and as_json(done)["with"] == "rita"
    (row,) = as_json(studydesk(home, "studies", "--shared-with", "rita", "--json", user="rita"))
    assert row["study_uid"] == uid["A1"] and row["accession"] == "A1"
    assert (row["shared_by"], row["share_note"]) == ("carl", "second opinion, left lung")
    text = studydesk(home, "studies", "--shared-with", "rita", user="rita").stdout
    assert "carl" in text and "second opinion" in text and "ROE" not in text
    assert as_json(studydesk(home, "studies", "--shared-with", "carl", "--json")) == []
    again = studydesk(home, "share", uid["A1"], uid["A2"], "--with", "rita", "--note", "both now", user="carl")
    assert again.returncode == 0 and "2 studies shared with rita" in again.stdout
    rows = as_json(studydesk(home, "studies", "--shared-with", "rita", "--json"))
    assert sorted(r["accession"] for r in rows) == ["A1", "A2"]
    assert {r["share_note"] for r in rows} == {"both now"}
    trail = as_json(studydesk(home, "audit", "--json"))
    shares = [e for e in trail if e["action"] == "share"]
    assert len(shares) == 2 and all(e["outcome"] == "success" for e in shares)
    assert "shared with rita" in shares[-1]["detail"] and uid["A2"] in shares[-1]["objects"]


def test_refusals_write_nothing_and_are_audited(loaded):
    home, uid = loaded
    unknown_user = studydesk(home, "studies", "--shared-with", "nobody")
    assert unknown_user.returncode == 4 and "nobody" in unknown_user.stderr
    nobody = studydesk(home, "share", uid["A1"], "--with", "nobody")
    assert nobody.returncode == 4 and "nobody" in nobody.stderr
    unknown = studydesk(home, "share", uid["A1"], "9.9.9.9.9.9.9.9.9", "--with", "rita")
    assert unknown.returncode == 4 and "9.9.9.9.9.9.9.9.9" in unknown.stderr
    themself = studydesk(home, "share", uid["A1"], "--with", "rita", user="rita")
    assert themself.returncode == 2 and "themself" in themself.stderr
    denied = studydesk(home, "share", uid["A1"], "--with", "rita", user="rex")
    assert denied.returncode == 3 and "network" in denied.stderr
    assert as_json(studydesk(home, "studies", "--shared-with", "rita", "--json")) == []
    trail = [e for e in as_json(studydesk(home, "audit", "--json")) if e["action"] == "share"]
    assert len(trail) == 4 and all(e["outcome"] != "success" for e in trail)
    assert any(e["user"] == "rex" and "network" in e["detail"] for e in trail)
    assert studydesk(home, "audit", "--verify").returncode == 0
