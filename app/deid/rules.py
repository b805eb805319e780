"""What each element becomes: the profile (PS3.15 Table E.1-1 with its
options) turned into one :class:`Rule` per (tag, VR, parent, dummy, SOP
Class), decided once per export. Both walks carry the rules out alike: the
pydicom one (:mod:`app.deid.walk`) and the byte-level one (:mod:`app.deid.raw`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from pydicom.datadict import dictionary_keyword, dictionary_VR

from app.deid import iod
from app.deid.table import CURVE, OVERLAY_COMMENTS, OVERLAY_DATA, Profile

PATIENT_NAME, PATIENT_ID = 0x00100010, 0x00100020
FREE_TEXT_VRS = frozenset({"ST", "LT", "UT", "UC"})
BINARY_VRS = frozenset({"OB", "OW", "OD", "OF", "OL", "OV", "UN"})
CLEANED_TEXT_VRS = frozenset({"AE", "CS", "SH", "LO", "ST", "LT", "UT", "UC", "UR"})
STRUCTURAL_UIDS = frozenset({
    "CodingSchemeUID", "ContextGroupExtensionCreatorUID", "ContextUID", "MappingResourceUID",
    "CreatorVersionUID", "PrivateInformationCreatorUID", "RepositoryUniqueID", "HomeCommunityID",
    "RetrieveLocationUID", "SegmentationTemplateUID", "SelectorUIValue", "ImplementationClassUID",
})


# What an element's rule comes down to (Rules.decide); the pydicom walk
# (app/deid/walk.py) and the byte-level path (app/deid/raw.py) carry out the
# same operations.
KEEP = "keep"          # as it is
PATIENT = "patient"    # top-level name and ID: the pseudonym is set after the walk
CLEAN = "clean"        # text: the patient's identifying values removed
REMOVE = "remove"
EMPTY = "empty"        # zero length (an empty sequence for SQ)
DUMMY = "dummy"        # a value that carries nothing
ITEMS = "items"        # a sequence: its items walked (Rule.dummy: with dummies)
UIDS = "uids"          # through the UID map
SHIFT = "shift"        # dates moved by the patient's offset
BINARY = "binary"      # removed when an identifying value is in its bytes


@dataclass(frozen=True)
class Rule:
    op: str
    dummy: bool = False            # ITEMS: replace free text in the items
    action: Optional[str] = None   # the table's action, for the report's counts
    graphics: bool = False         # C on curve, overlay or binary data: reported as kept


class Rules:
    """The profile turned into one Rule per (tag, VR, parent, dummy, SOP Class),
    decided once per export and then looked up."""

    def __init__(self, profile: Profile):
        self.profile = profile
        self.dates = profile.dates
        self._memo: dict = {}

    def decide(self, tag: int, vr: str, parent: Optional[int], dummy: bool, sop_class: str) -> Rule:
        key = (tag, vr, parent, dummy, sop_class)
        rule = self._memo.get(key)
        if rule is None:
            rule = self._memo[key] = self._decide(tag, vr, parent, dummy, sop_class)
        return rule

    def _decide(self, tag: int, vr: str, parent, dummy: bool, sop_class: str) -> Rule:
        group, element = tag >> 16, tag & 0xFFFF
        key = tag
        if group & 0xFF00 == 0x5000:
            key = CURVE
        elif group & 0xFF00 == 0x6000 and element in (0x3000, 0x4000):
            key = OVERLAY_DATA if element == 0x3000 else OVERLAY_COMMENTS
        action = self.profile.action(key)
        if action is None:
            return self._unlisted(tag, vr, dummy)
        if "/" in action:
            action = iod.resolve(action, tag, sop_class, parent)
        patient = tag in (PATIENT_NAME, PATIENT_ID) and parent is None
        if action == "X":
            return Rule(REMOVE, action=action)
        if action == "Z":
            return Rule(PATIENT if patient and vr != "SQ" else EMPTY, action=action)
        if action == "D":
            if vr == "SQ":
                return Rule(ITEMS, True, action)
            if patient:
                return Rule(PATIENT, action=action)
            return Rule(UIDS if vr == "UI" else DUMMY, action=action)
        if action == "U":
            return Rule(ITEMS if vr == "SQ" else UIDS, dummy, action)
        if action == "C":
            graphics = key in (CURVE, OVERLAY_DATA) or vr in ("OB", "OW", "UN")
            return Rule(self._clean(vr), dummy, action, graphics)
        # K
        if vr == "SQ":
            return Rule(ITEMS, dummy, action)
        return Rule(CLEAN if vr in CLEANED_TEXT_VRS or vr == "PN" else KEEP, action=action)

    def _clean(self, vr: str) -> str:
        if vr == "SQ":
            return ITEMS
        if vr in ("DA", "DT", "TM"):
            return self._date(vr)
        if vr == "UI":
            return UIDS
        return CLEAN if vr in CLEANED_TEXT_VRS or vr == "PN" else KEEP

    def _date(self, vr: str) -> str:
        if self.dates == "kept" or vr == "TM":
            return KEEP
        return EMPTY if self.dates == "removed" else SHIFT

    def _unlisted(self, tag: int, vr: str, dummy: bool) -> Rule:
        if vr == "SQ":
            return Rule(ITEMS, dummy)
        if vr == "UI":
            keyword = dictionary_keyword(tag) if known_tag(tag) else ""
            if ("ClassUID" in keyword or "Classes" in keyword or "TransferSyntax" in keyword
                    or keyword in STRUCTURAL_UIDS):
                return Rule(KEEP)
            return Rule(UIDS)
        if vr in ("DA", "DT", "TM"):
            if self.dates == "shifted":
                return Rule(self._date(vr))
            return Rule(EMPTY if self.dates == "removed" else KEEP)
        if vr == "PN":
            return Rule(DUMMY if dummy else EMPTY)
        if dummy and vr in FREE_TEXT_VRS:
            return Rule(DUMMY)
        if vr in CLEANED_TEXT_VRS:
            return Rule(CLEAN)
        if vr == "UN" and not known_tag(tag):
            return Rule(REMOVE)  # an unknown public element: nothing tells what it holds
        if vr in BINARY_VRS:
            return Rule(BINARY)  # e.g. a name inside an ICC profile: bytes cannot be cleaned
        return Rule(KEEP)



def known_tag(tag: int) -> bool:
    try:
        dictionary_VR(tag)
        return True
    except KeyError:
        return False
