"""The Deidentifier: PS3.15 Table E.1-1 applied to a pydicom Dataset in place.

Every element is looked up in the profile (the table with the options
applied) at every depth of every sequence; sequences are processed
recursively whatever their own action (K and C keep a sequence and clean its
items, D keeps its structure and replaces free text in it). What the table
does not list is handled by its VR (PS3.15 E.1.1 Note 4): dates follow the
date option, person names are emptied, instance UIDs go through the UID map
like the listed ones, and text keeps its value with any identifying value of
the patient removed. Pixel data is never decoded or touched.

What each element becomes is decided in :mod:`app.deid.rules` and carried
out by :mod:`app.deid.walk` (the pydicom path) or :mod:`app.deid.raw` (the
bytes); this module holds the export's state: keys, pseudonyms, offsets, report.
"""

from __future__ import annotations

from typing import Iterable, Optional

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from app import __version__
from app.deid import values
from app.deid.identifiers import Needle, Needles, collect
from app.deid.keys import PSEUDONYM_PREFIX, Keyring
from app.deid.report import Report
from app.deid.rules import PATIENT_NAME, Rules
from app.deid.table import Profile
from app.deid.walk import _Walk
from app.dicom.meta import file_meta_dataset

STANDARD_UID_ROOT = "1.2.840.10008."
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
