"""The Deidentifier: PS3.15 Table E.1-1 applied to a pydicom Dataset in place.

Every element is looked up in the profile (the table with the options
applied) at every depth of every sequence; sequences are processed
recursively whatever their own action (K and C keep a sequence and clean its
items, D keeps its structure and replaces free text in it). What the table
does not list is handled by its VR (PS3.15 E.1.1 Note 4): dates follow the
date option, person names are emptied, instance UIDs go through the UID map
like the listed ones, and text keeps its value with any identifying value of
the patient removed. Pixel data is never decoded or touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional

from pydicom.datadict import dictionary_keyword, dictionary_VR
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence

from app import __version__
from app.deid import iod, private, values
from app.deid.identifiers import Needle, Needles, collect
from app.deid.keys import PSEUDONYM_PREFIX, Keyring
from app.deid.report import Report
from app.deid.table import CURVE, OVERLAY_COMMENTS, OVERLAY_DATA, Profile
from app.dicom.meta import file_meta_dataset

PIXEL_TAGS = frozenset({0x7FE00010, 0x7FE00008, 0x7FE00009})
PATIENT_NAME, PATIENT_ID = 0x00100010, 0x00100020
STANDARD_UID_ROOT = "1.2.840.10008."
FREE_TEXT_VRS = frozenset({"ST", "LT", "UT", "UC"})
BINARY_VRS = frozenset({"OB", "OW", "OD", "OF", "OL", "OV", "UN"})
CLEANED_TEXT_VRS = frozenset({"AE", "CS", "SH", "LO", "ST", "LT", "UT", "UC", "UR"})
STRUCTURAL_UIDS = frozenset({
    "CodingSchemeUID", "ContextGroupExtensionCreatorUID", "ContextUID", "MappingResourceUID",
    "CreatorVersionUID", "PrivateInformationCreatorUID", "RepositoryUniqueID", "HomeCommunityID",
    "RetrieveLocationUID", "SegmentationTemplateUID", "SelectorUIValue", "ImplementationClassUID",
})
VOCABULARY = " ".join([
    "DICOM PS3.15 Basic Application Level Confidentiality Profile Table E.1-1 edition options",
    "Basic Application Confidentiality Profile Retain Longitudinal Temporal Information Full",
    "Modified Dates Option Patient Characteristics Device Identity UIDs Safe Private",
    "Institution Identity Clean Descriptors Structured Content Graphics StudyDesk",
    values.DUMMY_TEXT, "YES MODIFIED UNMODIFIED REMOVED DCM", PSEUDONYM_PREFIX,
])


class Deidentifier:
    """One export's de-identification: the profile, ONE UID map, one pseudonym
    and one date offset per patient, and the report.

    ``secret``: None gives a new random key (a random map per export); bytes
    give the same UIDs, pseudonyms and offsets every time. ``pseudonyms`` and
    ``date_offsets`` ({PatientID: value}) override the derived ones;
    ``names`` ({PatientID: value}) gives a patient a PatientName other than
    the pseudonym (research staging: PID as ID, StudySubjectID as name).
    """

    def __init__(self, profile: Profile, secret: Optional[bytes] = None, date_offsets=None,
                 pseudonyms=None, names=None):
        self.profile = profile
        self.keys = Keyring(secret)
        self.date_offsets: dict[str, int] = dict(date_offsets or {})
        self.pseudonyms: dict[str, str] = dict(pseudonyms or {})
        self.names: dict[str, str] = dict(names or {})
        self.report = Report(profile)
        self.rules = Rules(profile)
        self.retain_uids = profile.has("retain-uids")
        self.safe_private = profile.has("retain-safe-private")
        self._retained = frozenset(k for k, a in profile.actions.items()
                                   if isinstance(k, int) and a == "K")
        self._needles: dict = {}

    # -- per export --------------------------------------------------------------

    @property
    def uid_map(self) -> dict[str, str]:
        return self.keys.uid_map

    def uid(self, original: str) -> str:
        """The replacement of a UID (the original when UIDs are retained or the
        UID is one the standard defines)."""
        original = str(original).strip("\x00 ")
        if not original or self.retain_uids or original.startswith(STANDARD_UID_ROOT):
            return original
        return self.keys.uid(original)

    def pseudonym(self, patient: str) -> str:
        if patient not in self.pseudonyms:
            self.pseudonyms[patient] = self.keys.pseudonym(patient)
        return self.pseudonyms[patient]

    def date_offset(self, patient: str) -> int:
        if patient not in self.date_offsets:
            self.date_offsets[patient] = self.keys.date_offset(patient)
        return self.date_offsets[patient]

    def state(self) -> dict:
        """What a worker process needs to make the same replacements."""
        return {"options": self.profile.names, "key": self.keys.key,
                "date_offsets": self.date_offsets, "pseudonyms": self.pseudonyms,
                "names": self.names}

    @classmethod
    def from_state(cls, state: dict) -> "Deidentifier":
        return cls(Profile(state["options"]), state["key"], state["date_offsets"],
                   state["pseudonyms"], state.get("names"))

    # -- per dataset -----------------------------------------------------------

    def needles(self, ds: Dataset, extra: Iterable[Needle] = ()) -> Needles:
        """The identifying values of *ds* (call before :meth:`apply`)."""
        return self.needles_of(collect(ds, self._retained, extra), _encodings(ds))

    def needles_of(self, found: list[Needle], encodings: list[str]) -> Needles:
        """Needles for values found in one file. The files of one patient
        mostly share them: built once, reused."""
        key = (frozenset(found), tuple(encodings))
        cached = self._needles.get(key)
        if cached is None:
            if len(self._needles) > 64:
                self._needles.clear()
            cached = self._needles[key] = Needles(found, encodings, VOCABULARY)
        return cached

    def apply(self, ds: Dataset, needles: Optional[Needles] = None, label: str = "",
              pixels: Optional[bool] = None) -> Dataset:
        """De-identify *ds* in place and return it. *pixels*: whether the file
        has Pixel Data, when *ds* was read without it (``stop_before_pixels``)."""
        if needles is None:
            needles = self.needles(ds)
        patient = self.patient_key(ds)
        sop_class = str(ds.get("SOPClassUID", ""))
        transfer_syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
        walk = _Walk(self, needles, sop_class,
                     self.date_offset(patient) if self.profile.dates == "shifted" else 0)
        walk.dataset(ds, None, dummy=False)
        ds.update(self.additions(patient))
        self._new_file_meta(ds, transfer_syntax)
        self.report.instances += 1
        self.report.burned_in_risk(label or str(ds.get("SOPInstanceUID", "")), ds, pixels)
        return ds

    @staticmethod
    def patient_key(ds: Dataset) -> str:
        """Whose file this is: the patient ID, or the name when there is no ID."""
        return str(ds.get("PatientID", "") or "") or "NAME:" + str(ds.get("PatientName", ""))

    def additions(self, patient: str) -> Dataset:
        """What every de-identified instance of *patient* gets: the pseudonym
        as name and ID (unless names are kept) and the attributes PS3.15 E.1.1
        requires (Patient Identity Removed, the method and its CID 7050 codes,
        Longitudinal Temporal Information Modified)."""
        out = Dataset()
        if self.profile.action(PATIENT_NAME) != "K":
            pseudonym = self.pseudonym(patient)
            out.PatientName = self.names.get(patient, pseudonym)
            out.PatientID = pseudonym
            self.report.pseudonyms.add(pseudonym)
        out.PatientIdentityRemoved = "YES"
        text = self.profile.description() + f"; StudyDesk {__version__}"
        out.DeidentificationMethod = _split(text, 64)
        items = []
        for value, meaning in self.profile.codes():
            item = Dataset()
            item.CodeValue = value
            item.CodingSchemeDesignator = "DCM"
            item.CodeMeaning = meaning
            items.append(item)
        out.DeidentificationMethodCodeSequence = Sequence(items)
        out.LongitudinalTemporalInformationModified = {
            "kept": "UNMODIFIED", "shifted": "MODIFIED", "removed": "REMOVED"}[self.profile.dates]
        return out

    @staticmethod
    def _new_file_meta(ds: Dataset, transfer_syntax) -> None:
        """Replace the File Meta Information and the preamble (PS3.15 E.1.1 item 7)."""
        ds.file_meta = file_meta_dataset(ds.get("SOPClassUID"), ds.get("SOPInstanceUID"),
                                         transfer_syntax or _encoding_syntax(ds))
        ds.preamble = b"\x00" * 128


def _encoding_syntax(ds: Dataset) -> Optional[str]:
    """The transfer syntax a dataset without File Meta Information was read in."""
    from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

    implicit, little = getattr(ds, "original_encoding", (None, None))
    if implicit is None:
        return None
    if implicit:
        return ImplicitVRLittleEndian
    return ExplicitVRLittleEndian if little else ExplicitVRBigEndian


def _split(text: str, limit: int) -> list[str]:
    """*text* in values of at most *limit* characters, cut between words (LO)."""
    out, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > limit:
            out.append(line)
            line = ""
        line = f"{line} {word}".strip()[:limit]
    return out + [line] if line else out


def _encodings(ds: Dataset) -> list[str]:
    from pydicom.charset import convert_encodings

    try:
        return convert_encodings(ds.get("SpecificCharacterSet", "ISO_IR 6") or "ISO_IR 6")
    except Exception:  # noqa: BLE001 - an unknown character set: fall back to Latin-1
        return ["iso8859"]


# What an element's rule comes down to (Rules.decide); the pydicom walk below
# and the byte-level path (app/deid/raw.py) carry out the same operations.
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


class _Walk:
    """One pass over one dataset (and its sequences)."""

    def __init__(self, d: Deidentifier, needles: Needles, sop_class: str, days: int):
        self.d, self.needles, self.sop_class, self.days = d, needles, sop_class, days
        self.rules, self.report = d.rules, d.report

    def dataset(self, ds: Dataset, parent: Optional[int], dummy: bool) -> None:
        keep_private = private.safe_tags(ds) if self.d.safe_private else set()
        for tag in [int(t) for t in ds.keys()]:  # plain ints: BaseTag compares in Python
            group, element = tag >> 16, tag & 0xFFFF
            if tag in PIXEL_TAGS and parent is None:
                continue
            if group & 1:
                if tag in keep_private:
                    self.report.private_kept += not private.is_creator(tag)
                    vr = _vr(ds, tag)
                    if vr == "SQ":
                        self._items(ds, tag, dummy)
                    elif vr in CLEANED_TEXT_VRS or vr == "PN":
                        self._clean_text(ds, tag)
                else:
                    del ds[tag]
                    self.report.private_removed += 1
                continue
            if group in (0x0000, 0x0002) or element == 0x0000:
                del ds[tag]
                continue
            vr = _vr(ds, tag)
            rule = self.rules.decide(tag, vr, parent, dummy, self.sop_class)
            if rule.action:
                self.report.actions[rule.action] += 1
            if rule.graphics:
                self.report.graphics_kept.append(f"({group:04X},{element:04X})")
            self.carry_out(ds, tag, vr, rule)

    def carry_out(self, ds: Dataset, tag: int, vr: str, rule: Rule) -> None:
        """Do what *rule* says to the element *tag* of *ds*."""
        op = rule.op
        if op in (KEEP, PATIENT):
            return
        if op == REMOVE:
            del ds[tag]
        elif op == CLEAN:
            self._clean_text(ds, tag)
        elif op == EMPTY:
            ds[tag].value = Sequence() if vr == "SQ" else values.empty(vr)
        elif op == DUMMY:
            ds[tag].value = values.dummy(vr)
        elif op == ITEMS:
            self._items(ds, tag, rule.dummy)
        elif op == UIDS:
            self._uids(ds, tag)
        elif op == SHIFT:
            self._shift(ds, tag, vr)
        elif op == BINARY and self._binary_identifies(ds, tag):
            del ds[tag]
            self.report.text_cleaned += 1

    # -- value helpers -----------------------------------------------------------

    def _items(self, ds: Dataset, tag: int, dummy: bool) -> None:
        for item in ds[tag].value or ():
            self.dataset(item, tag, dummy)

    def _uids(self, ds: Dataset, tag: int) -> None:
        elem = ds[tag]
        if elem.value in (None, ""):
            return
        if isinstance(elem.value, str):
            new = self.d.uid(elem.value)
            changed = new != elem.value
            elem.value = new
        else:
            old = list(elem.value)
            new_values = [self.d.uid(v) for v in old]
            changed = new_values != old
            elem.value = new_values
        if changed:
            self.report.uids_replaced += 1

    def _shift(self, ds: Dataset, tag: int, vr: str) -> None:
        elem = ds[tag]
        new, bad = values.shift_value(vr, elem.value, self.days)
        elem.value = new
        self.report.dates_shifted += 1
        self.report.dates_unreadable += bad

    def _binary_identifies(self, ds: Dataset, tag: int) -> bool:
        value = ds.get_item(tag).value
        return bool(self.needles) and isinstance(value, (bytes, bytearray)) \
            and self.needles.in_binary(bytes(value))

    def _clean_text(self, ds: Dataset, tag: int) -> None:
        if not self.needles:
            return
        raw = ds.get_item(tag)
        if isinstance(raw, RawDataElement) and (raw.value is None
                                                or not self.needles.maybe_in(raw.value)):
            return
        elem = ds[tag]
        value = elem.value
        if value is None or value == "":
            return
        if isinstance(value, bytes):
            return
        if not isinstance(value, (list, tuple, MultiValue)):
            text = str(value)
            if self.needles.found_in(text):
                elem.value = self.needles.clean(text)
                self.report.text_cleaned += 1
            return
        texts = [str(v) for v in value]
        if any(self.needles.found_in(t) for t in texts):
            elem.value = [self.needles.clean(t) for t in texts]
            self.report.text_cleaned += 1


def known_tag(tag: int) -> bool:
    try:
        dictionary_VR(tag)
        return True
    except KeyError:
        return False


def _vr(ds: Dataset, tag: int) -> str:
    """The element's VR without decoding its value when the file states it;
    otherwise (implicit VR, UN) as pydicom resolves it from its dictionaries."""
    vr = getattr(ds.get_item(tag), "VR", None)
    if vr and vr != "UN":
        return vr
    return ds[tag].VR
