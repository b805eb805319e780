"""De-identification by the DICOM PS3.15 Basic Application Level
Confidentiality Profile and its options (Annex E, Table E.1-1 as data).

    from app.deid import Profile, Deidentifier
    d = Deidentifier(Profile(["retain-long-modified-dates"]))
    d.apply(ds)          # in place; returns ds
    d.report             # what the verification report needs

One Deidentifier is one export: one UID map, one pseudonym and one date
offset per patient. See engine.py for the rules and keys.py for the map.
"""

from app.deid.engine import Deidentifier
from app.deid.identifiers import Needle, Needles
from app.deid.report import Report
from app.deid.table import Option, Profile, all_options

__all__ = ["Deidentifier", "Needle", "Needles", "Option", "Profile", "Report", "all_options"]
