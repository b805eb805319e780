"""Nodes, C-ECHO and C-FIND against a real Orthanc."""

from __future__ import annotations

import pytest

from app.errors import BadInput, NotAllowed, NotFound
from app.net import client, nodes
from app.net.wire import NetworkError
from app.worklist.query import Query

pytestmark = pytest.mark.network

STUDY_KEYS = {"study_instance_uid", "patient_id", "patient_name", "study_date", "accession_number", "modalities",
              "description", "series_count", "instance_count", "assigned_to", "locked_by", "staged"}


def test_nodes_are_validated_and_listed(home, admin):
    db = home.connect()
    node = nodes.add_node(db, admin, "pacs", "ORTHANC", "pacs.example.org", 4242, tls=True,
                          purposes=["query-retrieve", "worklist"])
    assert nodes.get_node(db, "pacs") == node
    assert [n.to_json() for n in nodes.list_nodes(db)] == [{
        "name": "pacs", "aet": "ORTHANC", "host": "pacs.example.org", "port": 4242, "tls": True,
        "purposes": ["query-retrieve", "worklist"]}]
    with pytest.raises(BadInput):
        nodes.add_node(db, admin, "pacs", "OTHER", "h", 104)  # exists
    with pytest.raises(BadInput):
        nodes.add_node(db, admin, "long", "X" * 17, "h", 104)
    with pytest.raises(BadInput):
        nodes.add_node(db, admin, "badport", "AE", "h", 70000)
    with pytest.raises(BadInput):
        nodes.add_node(db, admin, "why", "AE", "h", 104, purposes=["coffee"])
    with pytest.raises(NotFound):
        nodes.get_node(db, "nope")
    clerk = admin.__class__("clerk", frozenset({"clerk"}))
    with pytest.raises(NotAllowed):
        nodes.add_node(db, clerk, "x", "AE", "h", 104)


def test_echo_reports_the_round_trip(net_home):
    ms = client.echo(net_home, "pacs")
    assert 0 < ms < 5000


def test_echo_of_a_closed_port_is_a_network_error(net_home, admin, free_port):
    db = net_home.connect()
    nodes.add_node(db, admin, "gone", "NOBODY", "127.0.0.1", free_port())
    with pytest.raises(NetworkError, match="gone"):
        client.echo(net_home, "gone")


def test_query_matches_like_the_local_worklist(net_home, admin, pacs_data):
    def uids(**keys):  # within this file's patients: other tests store into the same Orthanc
        keys.setdefault("patient_id", "NETP*")
        return {r["study_instance_uid"] for r in client.query_studies(net_home, admin, "pacs", Query(**keys))}

    jane = {pacs_data["chest"], pacs_data["knee"]}
    assert uids(patient_name="DOE*") == jane
    assert uids(patient_name="jane") == jane           # one component, any case
    assert uids(patient_name="j?ne") == jane
    assert uids(patient_name="*ICHAR*") == {pacs_data["big"]}
    assert uids(patient_id="NETP1", modality="MR") == {pacs_data["knee"]}
    assert uids(description="*chest*") == {pacs_data["chest"]}
    assert uids(date_from="20230101", date_to="20231231") == {pacs_data["knee"]}
    assert uids(patient_id="netp2") == {pacs_data["big"]}
    assert uids(patient_name="NOBODY*") == set()


def test_query_rows_have_the_studies_keys(net_home, admin, pacs_data):
    rows = client.query_studies(net_home, admin, "pacs", Query(accession="NET001"))
    assert len(rows) == 1
    row = rows[0]
    assert STUDY_KEYS <= set(row)
    assert row["study_instance_uid"] == pacs_data["chest"]
    assert row["patient_name"] == "DOE^JANE"
    assert row["modalities"] == ["CT"]
    assert row["series_count"] == 2 and row["instance_count"] == 7
    assert row["in_cache"] == 0 and row["node"] == "pacs"


def test_series_level_query(net_home, admin, pacs_data):
    rows = client.query_series(net_home, admin, "pacs", pacs_data["chest"])
    assert sorted(r["instance_count"] for r in rows) == [3, 4]
    assert {r["modality"] for r in rows} == {"CT"}


def test_remote_queries_are_audited(net_home, admin, pacs_data):
    from app.accounts import audit

    client.query_studies(net_home, admin, "pacs", Query(patient_id="NETP2"))
    db = net_home.connect()
    entry = audit.entries(db)[-1]
    assert entry["event_code"] == audit.QUERY and "pacs" in entry["detail"]


def test_assigned_to_is_not_a_remote_key(net_home, admin):
    with pytest.raises(BadInput):
        client.query_studies(net_home, admin, "pacs", Query(assigned_to="someone"))


def test_an_unknown_caller_is_refused_by_orthanc(net_home, admin, pacs_data):
    net_home.set_setting("aet", "STRANGER")
    with pytest.raises(NetworkError):
        client.query_studies(net_home, admin, "pacs", Query(patient_id="NETP1"))
