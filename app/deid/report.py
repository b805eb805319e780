"""What the verification report needs, accumulated while de-identifying.

A report holds counts and findings, never an identifying value: residual
hits name the file, the attribute a value came from and its kind. Reports
from worker processes travel as plain dicts (:meth:`Report.to_state`) and
are merged into the export's report (:meth:`Report.merge`).
"""

from __future__ import annotations

from collections import Counter
from typing import Optional

BURNED_IN_MODALITIES = {"US": "ultrasound", "SC": "secondary capture", "OT": "other",
                        "XC": "external camera", "ES": "endoscopy", "GM": "general microscopy"}
SECONDARY_CAPTURE_PREFIX = "1.2.840.10008.5.1.4.1.1.7"


class Report:
    def __init__(self, profile=None):
        self.profile = profile
        self.instances = 0
        self.actions: Counter = Counter()
        self.private_removed = 0
        self.private_kept = 0
        self.uids_replaced = 0
        self.dates_shifted = 0
        self.dates_unreadable = 0
        self.text_cleaned = 0
        self.pseudonyms: set[str] = set()
        self.burned_in: list[dict] = []
        self.graphics_kept: list[str] = []
        self.files_scanned = 0
        self.values_searched = 0
        self.unsearchable: Counter = Counter()
        self.hits: list[dict] = []

    # -- accumulation -----------------------------------------------------------

    def burned_in_risk(self, label: str, ds, pixels: Optional[bool] = None) -> Optional[str]:
        """Flag *ds* when its pixels may carry burned-in text; returns the reason.
        *pixels*: whether the file has Pixel Data, when *ds* was read without it."""
        reason = None
        if str(ds.get("BurnedInAnnotation", "")).upper() == "YES":
            reason = "Burned In Annotation is YES"
        elif str(ds.get("Modality", "")).upper() in BURNED_IN_MODALITIES:
            modality = str(ds.get("Modality", "")).upper()
            reason = f"modality {modality} ({BURNED_IN_MODALITIES[modality]}) often carries burned-in text"
        elif str(ds.get("SOPClassUID", "")).startswith(SECONDARY_CAPTURE_PREFIX):
            reason = "a secondary capture (screen capture) image"
        if reason and ("PixelData" in ds if pixels is None else pixels):
            self.burned_in.append({"file": label, "reason": reason})
            return reason
        return None

    def scanned(self, label: str, needles, hits: list[dict]) -> None:
        self.files_scanned += 1
        self.values_searched += len(needles)
        for n in needles.unsearchable:
            self.unsearchable[n.kind] += 1
        for hit in hits:
            self.hits.append({"file": label, **hit})

    # -- transport between processes ------------------------------------------

    _COUNTS = ("instances", "private_removed", "private_kept", "uids_replaced", "dates_shifted",
               "dates_unreadable", "text_cleaned", "files_scanned", "values_searched")

    def to_state(self) -> dict:
        state = {k: getattr(self, k) for k in self._COUNTS}
        state.update(actions=dict(self.actions), pseudonyms=sorted(self.pseudonyms),
                     burned_in=list(self.burned_in), graphics_kept=list(self.graphics_kept),
                     unsearchable=dict(self.unsearchable), hits=list(self.hits))
        return state

    def merge(self, state: dict) -> None:
        for k in self._COUNTS:
            setattr(self, k, getattr(self, k) + state.get(k, 0))
        self.actions.update(state.get("actions", {}))
        self.unsearchable.update(state.get("unsearchable", {}))
        self.pseudonyms.update(state.get("pseudonyms", ()))
        self.burned_in.extend(state.get("burned_in", ()))
        self.graphics_kept.extend(state.get("graphics_kept", ()))
        self.hits.extend(state.get("hits", ()))

    def reset(self) -> None:
        self.__init__(self.profile)

    # -- the document ----------------------------------------------------------

    def to_json(self, **extra) -> dict:
        profile = self.profile
        document = {
            "profile": {
                "name": "Basic Application Level Confidentiality Profile",
                "standard": f"DICOM PS3.15 Annex E, Table E.1-1, edition {profile.edition}"
                if profile else "",
                "options": [{"name": o.name, "code": o.code, "meaning": o.meaning}
                            for o in (profile.options if profile else ())],
                "codes": [{"value": v, "scheme": "DCM", "meaning": m}
                          for v, m in (profile.codes() if profile else ())],
                "dates": profile.dates if profile else "",
            },
            "counts": {"instances_out": self.instances, "patients": len(self.pseudonyms)},
            "actions": {
                "by_code": dict(sorted(self.actions.items())),
                "uids_replaced": self.uids_replaced,
                "private_removed": self.private_removed,
                "private_kept": self.private_kept,
                "dates_shifted": self.dates_shifted,
                "dates_unreadable_emptied": self.dates_unreadable,
                "text_values_cleaned": self.text_cleaned,
            },
            "burned_in_risk": {
                "count": len(self.burned_in),
                "note": "The profile does not clean pixel data: text burned into these images "
                        "is exported as it is (Clean Pixel Data Option not applied).",
                "files": self.burned_in,
            },
            "graphics_kept": self.graphics_kept,
            "residual_scan": {
                "files_scanned": self.files_scanned,
                "values_searched": self.values_searched,
                "values_not_searchable": dict(self.unsearchable),
                "hits": self.hits,
                "passed": not self.hits,
            },
        }
        for key, value in extra.items():
            if isinstance(value, dict) and isinstance(document.get(key), dict):
                document[key].update(value)
            else:
                document[key] = value
        return document
