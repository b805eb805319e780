"""A study's series as a tree of radiotherapy references.

A node's children are the series whose objects refer to it: image series
-> RTSTRUCT (ReferencedFrameOfReferenceSequence / ContourImageSequence)
-> RTPLAN (ReferencedStructureSetSequence) -> RTDOSE and treatment records
(ReferencedRTPlanSequence); RT images and registrations where present. A
series referring to nothing in the study is a root. When an object refers
to several series, its parent is the most specific one (a dose that names
its plan and the images hangs under the plan). References to objects that
are not in the study are kept as warnings.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import pydicom

from app import store
from app.dicom.references import references_of
from app.home import Home
from app.worklist.query import resolve_study_uid

RT_MODALITIES = {"RTSTRUCT", "RTPLAN", "RTDOSE", "RTRECORD", "RTIMAGE", "REG", "RTION", "RTTREAT"}
# how specific a parent is: a plan beats a structure set beats images
LEVEL = {"RTPLAN": 3, "RTION": 3, "RTSTRUCT": 2, "REG": 1}


@dataclass
class Node:
    series_uid: str
    modality: str
    label: str
    approval: str
    number: int | None
    instance_count: int
    parents: set[str] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)
    children: list["Node"] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"series_instance_uid": self.series_uid, "modality": self.modality, "label": self.label,
                "approval": self.approval, "number": self.number,
                "instance_count": self.instance_count, "warnings": self.warnings,
                "children": [c.to_json() for c in self.children]}


def _header(home: Home, path: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(store.absolute(home, path), stop_before_pixels=True, force=True)


def _label(ds, description: str) -> str:
    for keyword in ("RTPlanLabel", "StructureSetLabel", "RTImageLabel", "ContentLabel"):
        value = str(ds.get(keyword, "") or "").strip()
        if value:
            return value
    return description


def build(home: Home, db, study: str, rt_only: bool = False) -> list[Node]:
    uid = resolve_study_uid(db, study)
    series = db.execute(
        "SELECT series_instance_uid, modality, series_description, series_number, instance_count,"
        " frame_of_reference_uid FROM series WHERE study_instance_uid = ?"
        " ORDER BY series_number IS NULL, series_number", [uid]).fetchall()
    sop_owner = {sop: s for sop, s in db.execute(
        "SELECT i.sop_instance_uid, i.series_instance_uid FROM instances i JOIN series s"
        " ON s.series_instance_uid = i.series_instance_uid WHERE s.study_instance_uid = ?", [uid])}
    frame_owner: dict[str, str] = {}
    nodes: dict[str, Node] = {}
    for s_uid, modality, description, number, count, frame in series:
        node = Node(s_uid, modality, description, "", number, count)
        nodes[s_uid] = node
        if frame and modality not in RT_MODALITIES:
            frame_owner.setdefault(frame, s_uid)
    for s_uid, modality, description, *_ in series:
        if modality not in RT_MODALITIES:
            continue
        node = nodes[s_uid]
        for (path,) in db.execute("SELECT path FROM instances WHERE series_instance_uid = ?", [s_uid]):
            ds = _header(home, path)
            node.label = _label(ds, node.label)
            node.approval = node.approval or str(ds.get("ApprovalStatus", "") or "")
            refs = references_of(ds)
            for sop in refs.instances:
                owner = sop_owner.get(sop)
                if owner and owner != s_uid:
                    node.parents.add(owner)
                elif owner is None:
                    node.warnings.append(f"refers to instance {sop}, which is not in this study")
            for ref_series in refs.series - {s_uid}:
                if ref_series in nodes:
                    node.parents.add(ref_series)
            if not node.parents:
                node.parents |= {frame_owner[f] for f in refs.frames_of_reference if f in frame_owner}
        node.warnings = sorted(set(node.warnings))
    roots: list[Node] = []
    for node in nodes.values():
        if node.parents:
            parent = max(node.parents, key=lambda p: (LEVEL.get(nodes[p].modality, 0), p))
            nodes[parent].children.append(node)
        else:
            roots.append(node)
    if rt_only:
        roots = [r for r in roots if r.modality in RT_MODALITIES or r.children]
    return roots


def descendants(node: Node) -> list[Node]:
    out = []
    for child in node.children:
        out.append(child)
        out += descendants(child)
    return out


def ancestors(roots: list[Node], series_uid: str) -> list[str]:
    """The chain above a series (what it needs: plan, structure set, images)."""
    def walk(nodes: list[Node], trail: list[str]) -> list[str] | None:
        for node in nodes:
            if node.series_uid == series_uid:
                return trail
            found = walk(node.children, trail + [node.series_uid])
            if found is not None:
                return found
        return None
    return walk(roots, []) or []
