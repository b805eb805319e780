"""The coded concepts of a TID 1500 measurement report (PS3.16), named once.

Each is (Code Value, Coding Scheme Designator, Code Meaning). A report is
read back by these codes, never by the meanings' wording."""

from __future__ import annotations

from pydicom.dataset import Dataset

Code = tuple[str, str, str]

COMPREHENSIVE_SR = "1.2.840.10008.5.1.4.1.1.88.33"
ENHANCED_SR = "1.2.840.10008.5.1.4.1.1.88.22"
COMPREHENSIVE_3D_SR = "1.2.840.10008.5.1.4.1.1.88.34"
REPORT_CLASSES = (COMPREHENSIVE_SR, ENHANCED_SR, COMPREHENSIVE_3D_SR)

MEASUREMENT_REPORT: Code = ("126000", "DCM", "Imaging Measurement Report")
IMAGING_MEASUREMENTS: Code = ("126010", "DCM", "Imaging Measurements")
MEASUREMENT_GROUP: Code = ("125007", "DCM", "Measurement Group")
IMAGE_LIBRARY: Code = ("111028", "DCM", "Image Library")
IMAGE_LIBRARY_GROUP: Code = ("126200", "DCM", "Image Library Group")
LANGUAGE: Code = ("121049", "DCM", "Language of Content Item and Descendants")
ENGLISH_US: Code = ("en-US", "RFC5646", "English (United States)")
OBSERVER_TYPE: Code = ("121005", "DCM", "Observer Type")
PERSON: Code = ("121006", "DCM", "Person")
PERSON_OBSERVER_NAME: Code = ("121008", "DCM", "Person Observer Name")
PROCEDURE_REPORTED: Code = ("121058", "DCM", "Procedure reported")
IMAGING_PROCEDURE: Code = ("363679005", "SCT", "Imaging procedure")
TRACKING_IDENTIFIER: Code = ("112039", "DCM", "Tracking Identifier")
TRACKING_UID: Code = ("112040", "DCM", "Tracking Unique Identifier")
IMAGE_REGION: Code = ("111030", "DCM", "Image Region")

# what is measured: the `kind` of a measurement as `measurements` lists it
KINDS: dict[str, Code] = {
    "length": ("410668003", "SCT", "Length"),
    "angle": ("1483009", "SCT", "Angle"),
    "area": ("42798000", "SCT", "Area"),
    "mean": ("373098007", "SCT", "Mean"),
    "std": ("386136009", "SCT", "Standard Deviation"),
    "min": ("255605001", "SCT", "Minimum"),
    "max": ("56851009", "SCT", "Maximum"),
}
KIND_OF = {(value, scheme): kind for kind, (value, scheme, _) in KINDS.items()}

# UCUM units and their meanings
UNITS = {"mm": "millimeter", "deg": "degree", "mm2": "square millimeter",
         "[hnsf'U]": "Hounsfield unit", "1": "no units"}

TID = {"report": "1500", "group": "1501", "region": "1410"}


def code_item(code: Code) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = code
    return item


def key(item: Dataset) -> tuple[str, str]:
    """(Code Value, Coding Scheme Designator) of a code sequence item."""
    value = item.get("CodeValue") or item.get("LongCodeValue") or item.get("URNCodeValue") or ""
    return str(value), str(item.get("CodingSchemeDesignator", ""))


def concept(content: Dataset) -> tuple[str, str]:
    names = content.get("ConceptNameCodeSequence")
    return key(names[0]) if names else ("", "")


def is_(content: Dataset, code: Code) -> bool:
    return concept(content) == code[:2]
