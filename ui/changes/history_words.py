"""The change journal in plain words, for the history panel (no Qt: it runs
in the panel's read job).

A user recognises a study by its description, date and accession and a
patient by name and ID, never by a UID, so each change is told from the rows
its plan recorded (app.changes.journal): "Moved series 'Lung 1mm' (2 images)
from study 'CT CHEST 2024-01-10' (ACC001) to 'CT HEAD 2024-01-12' (ACC002) of
DOE, John". ``undo_words`` says what an Undo of the change will put back,
for the confirmation. Only the parts of a plan that name things are read
(one json_extract), never its instance rows into Python, so a change of
thousands of images costs little more to describe than one of two.
"""

from __future__ import annotations

import json
from datetime import datetime

from app.changes import journal
from ui import formatting

SHOWN = 200  # the newest changes listed
ACTIONS = {"merge-studies": "Merge studies", "merge-patients": "Merge patients",
           "delete": "Delete", "undo": "Undo", "reallocate": "Reallocate series"}
NOUNS = {"merge-studies": "study merge", "merge-patients": "patient merge", "delete": "delete",
         "reallocate": "reallocation"}   # "Undo this reallocation?"
_PARTS = ("$.before.studies", "$.before.series", "$.after.series", "$.before.patients")


def load_history(db, limit: int = SHOWN) -> list[dict]:
    """journal.history's newest *limit* rows, each with ``label`` (the kind
    of change), ``noun`` (the same in a sentence), ``what`` (the change in
    words) and ``undo_what`` (what an undo puts back)."""
    changes = journal.history(db)[:limit]
    told: dict[int, tuple[str, str, str]] = {}   # change id -> (action, what, undo_what)
    for change in reversed(changes):   # oldest first: an undo finds its change told
        told[change["change_id"]] = (change["action"], *_tell(db, change, told))
    for change in changes:
        change["label"] = ACTIONS.get(change["action"], change["action"].replace("-", " ").capitalize())
        change["noun"] = NOUNS.get(change["action"], "change")
        _action, change["what"], change["undo_what"] = told[change["change_id"]]
    return changes


def local_time(iso: str) -> str:
    """An ISO time from the journal as local ``YYYY-MM-DD HH:MM:SS``."""
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except (TypeError, ValueError):
        return (iso or "")[:19].replace("T", " ")


# -- one change -----------------------------------------------------------------------


def _tell(db, change: dict, told: dict[int, tuple[str, str, str]]) -> tuple[str, str]:
    if change["action"] == "undo":
        undone = change["undoes"]
        if undone not in told:   # older than the list
            row = db.execute("SELECT action FROM changes WHERE change_id = ?", [undone]).fetchone()
            action = row[0] if row else ""
            told[undone] = (action, *_tell(db, {"change_id": undone, "action": action}, told))
        action, original, _ = told[undone]
        if action == "delete":   # the trash's Restore is the undo of a delete
            study = original.removeprefix("Moved ").removesuffix(" to the trash")
            return f"Restored {study} from the trash", ""
        return f"Undid change {undone}: {_lower_first(original)}", ""
    plan = _plan_parts(db, change["change_id"])
    tell = _TELLERS.get(change["action"])
    if tell is None:
        studies = len(plan["$.before.studies"])
        return (f"{change['action'].replace('-', ' ').capitalize()} of {_count(studies, 'study')}",
                "The rows it changed go back to what they were.")
    return tell(db, plan)


def _plan_parts(db, change_id: int) -> dict[str, list[dict]]:
    """The rows of a plan that name things (one JSON parse: json_extract
    of several paths returns them as one array)."""
    paths = ", ".join(f"'{part}'" for part in _PARTS)
    row = db.execute(f"SELECT json_extract(plan, {paths}) FROM changes WHERE change_id = ?",
                     [change_id]).fetchone()
    values = json.loads(row[0]) if row and row[0] else [None] * len(_PARTS)
    return {part: value or [] for part, value in zip(_PARTS, values)}


def _moved(db, plan: dict) -> tuple[str, str]:
    """A reallocation: the series, from which study, to which study, whose."""
    moved = plan["$.after.series"]
    if not moved:
        return "Moved series between studies", "The series go back to the study they came from."
    destination = moved[0]["study_instance_uid"]
    studies = plan["$.before.studies"]
    target = next((s for s in studies if s["study_instance_uid"] == destination), None)
    sources = [s for s in studies if s["study_instance_uid"] != destination]
    images = sum(s.get("instance_count") or 0 for s in moved)
    names = ", ".join(_series(s) for s in moved)
    what = f"series {names}" if len(moved) == 1 else f"{len(moved)} series ({names})"
    twins = any(_study(s) == _study(target) for s in sources)   # a split exam: tell them by time
    origin = " and ".join(_study(s, twins) for s in sources) or "another study"
    text = (f"Moved {what} ({_count(images, 'image')}) from study {origin} to {_study(target, twins)}"
            f"{_of(db, target, plan)}")
    cleared = len(plan["$.before.series"]) - len(moved)
    if cleared > 0:
        text += f"; cleared {_count(cleared, 'AI result series', 'AI result series')}"
    back = f"{what[0].upper()}{what[1:]} {'goes' if len(moved) == 1 else 'go'} back to study {origin}"
    return text, back + (", with the AI results that were cleared." if cleared > 0 else ".")


def _merged_studies(db, plan: dict) -> tuple[str, str]:
    studies = plan["$.before.studies"]
    if len(studies) < 2:
        return "Merged two studies", "The merged study is split out again."
    source, target = studies[0], studies[1]
    twins = _study(source) == _study(target)   # a split exam: tell them by time
    series = _count(len(plan["$.before.series"]), "series", "series")
    images = sum(s.get("instance_count") or 0 for s in plan["$.before.series"])
    text = (f"Merged study {_study(source, twins)} into {_study(target, twins)}{_of(db, target, plan)}: "
            f"{series}, {_count(images, 'image')}")
    return text, f"Study {_study(source, twins)} is split out again, with its {series}."


def _merged_patients(db, plan: dict) -> tuple[str, str]:
    patients = plan["$.before.patients"]
    if len(patients) < 2:
        return "Merged two patient records", "The merged record is split out again."
    source, target = patients[0], patients[1]
    studies = _count(len(plan["$.before.studies"]), "study")
    text = f"Merged patient {_patient(source)} into {_patient(target)}: {studies}"
    return text, f"Patient {_patient(source)} gets back their {studies}."


def _trashed(db, plan: dict) -> tuple[str, str]:
    studies = plan["$.before.studies"]
    if not studies:
        return "Moved a study to the trash", "The study comes back from the trash."
    study = studies[0]
    text = f"Moved study {_study(study)}{_of(db, study, plan)} to the trash"
    return text, f"Study {_study(study)} comes back from the trash to the worklist."


_TELLERS = {"reallocate": _moved, "merge-studies": _merged_studies,
            "merge-patients": _merged_patients, "delete": _trashed}


# -- names ----------------------------------------------------------------------------


def _study(row, with_time: bool = False) -> str:
    """'CT CHEST 2024-01-10' (ACC001): what a user reads on the worklist;
    *with_time* adds the study time, for two studies that read alike."""
    if not row:
        return "(unknown study)"
    when = [formatting.dicom_date(row.get("study_date"))]
    if with_time:
        when.append(formatting.dicom_time(row.get("study_time")))
    inside = " ".join(p for p in (row.get("study_description", "").strip(), *when) if p)
    text = f"'{inside}'" if inside else "(no description)"
    accession = (row.get("accession_number") or "").strip()
    return f"{text} ({accession})" if accession else text


def _series(row: dict) -> str:
    description = (row.get("series_description") or "").strip()
    if description:
        return f"'{description}'"
    number = row.get("series_number")
    return f"{row.get('modality') or 'a'} series" + (f" #{number}" if number is not None else "")


def _patient(row: dict) -> str:
    name = formatting.person_name(row.get("patient_name")) or "(no name)"
    return f"{name} ({row['patient_id']})" if row.get("patient_id") else name


def _of(db, study, plan: dict) -> str:
    """' of DOE, John': the patient of *study*, from the cache or the plan."""
    if not study:
        return ""
    pk = study.get("patient_pk")
    row = next((p for p in plan["$.before.patients"] if p.get("id") == pk), None)
    if row is None:
        found = db.execute("SELECT patient_name FROM patients WHERE id = ?", [pk]).fetchone()
        row = {"patient_name": found[0]} if found else None
    name = formatting.person_name(row["patient_name"]) if row else ""
    return f" of {name}" if name else ""


def _count(n: int, one: str, many: str = "") -> str:
    if n == 1:
        return f"1 {one}"
    return f"{n} {many or (one[:-1] + 'ies' if one.endswith('y') else one + 's')}"


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]
