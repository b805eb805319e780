"""Retrieving chosen series of a study from a real Orthanc (app/net/retrieve/series.py),
by C-GET and by C-MOVE, and from the command line (retrieve --series)."""

from __future__ import annotations

import pytest

from app.accounts import audit
from app.errors import NotFound
from app.net.client import query_series
from app.net.retrieve.series import retrieve_series
from app.worklist.query import series_of
from tests.factories import uid
from tests.net.test_cli_net import cli_home, js, sd  # noqa: F401 - the CLI home fixture

pytestmark = pytest.mark.network

AX, COR = uid("NETP1", "s1", "ax"), uid("NETP1", "s1", "cor")


def held(home, study_uid: str) -> dict[str, int]:
    db = home.connect()
    try:
        return {s["series_instance_uid"]: s["instance_count"] for s in series_of(db, study_uid)}
    finally:
        db.close()


@pytest.mark.parametrize("method", ["get", "move"])
def test_one_series_of_a_study_and_nothing_else(net_home, admin, pacs_data, method):
    progress = []
    result = retrieve_series(net_home, admin, "pacs", pacs_data["chest"], [COR], method,
                             progress=lambda f, m="": progress.append((f, m)))
    assert (result.retrieved, result.already_present, result.failed) == (3, 0, [])
    assert result.series == [COR] and not result.series_not_found
    assert held(net_home, pacs_data["chest"]) == {COR: 3}
    assert any(f == 1.0 and f"C-{method.upper()}" in m for f, m in progress)
    db = net_home.connect()
    try:
        entry = [e for e in audit.entries(db) if e["action"] == "retrieve"][-1]
    finally:
        db.close()
    assert entry["event_code"] == audit.INSTANCES_TRANSFERRED
    assert f"C-{method.upper()} of 1 series" in entry["detail"] and "3 retrieved" in entry["detail"]


def test_the_series_pane_answer_and_a_second_series_fetches_only_what_is_missing(net_home, admin,
                                                                                 pacs_data):
    rows = query_series(net_home, admin, "pacs", pacs_data["chest"])
    assert {r["series_instance_uid"]: r["instance_count"] for r in rows} == {AX: 4, COR: 3}
    retrieve_series(net_home, admin, "pacs", pacs_data["chest"], [COR])
    both = retrieve_series(net_home, admin, "pacs", pacs_data["chest"], [AX, COR])
    assert (both.retrieved, both.already_present, both.failed) == (4, 3, [])
    assert held(net_home, pacs_data["chest"]) == {AX: 4, COR: 3}


def test_a_series_the_node_does_not_have(net_home, admin, pacs_data):
    with pytest.raises(NotFound, match="none of the series"):
        retrieve_series(net_home, admin, "pacs", pacs_data["chest"], ["1.2.3.4.5.6.7.8.9"])
    result = retrieve_series(net_home, admin, "pacs", pacs_data["chest"], [AX, "1.2.3.4.5.6.7.8.9"])
    assert result.series_not_found == ["1.2.3.4.5.6.7.8.9"] and result.retrieved == 4


def test_retrieve_series_on_the_command_line(cli_home, pacs_data):  # noqa: F811
    got = js(cli_home, "retrieve", "pacs", pacs_data["chest"], "--series", AX)
    assert got["retrieved"] == 4 and got["series"] == [AX] and got["failed"] == []
    listed = js(cli_home, "series", pacs_data["chest"])
    assert [s["series_uid"] for s in listed] == [AX]
    two = sd(cli_home, "retrieve", "pacs", pacs_data["chest"], pacs_data["knee"], "--series", AX,
             check=False)
    assert two.returncode == 2 and "the one study" in two.stderr
