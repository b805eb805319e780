"""Worklist queries at 100,000 studies: every QBE field served by an index.

Fills a fresh home's cache with N (default 100,000) synthetic studies (rows
only, no files: the query never touches the store), then times each kind
of query-by-example through `app.worklist.query.study_uids` (the call behind
`studydesk studies` and the worklist window) against the anchor: one full
scan of the same tables (`SELECT count(*)` joining studies and patients
with a condition no index can serve). A ratio below 1 means the query costs
less than reading the table once.

    .venv/bin/python bench/worklist_query.py [--n 100000] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

from _common import machine  # noqa: E402  (puts the project on sys.path)
from app.db import transaction  # noqa: E402
from app.dicom.columns import name_norm, name_parts  # noqa: E402
from app.home import Home  # noqa: E402
from app.worklist.query import Query, study_uids  # noqa: E402
from app.startup import open_home

FAMILY = ["SMITH", "JOHNSON", "NGUYEN", "GARCIA", "MUELLER", "ROSSI", "DUBOIS", "KOWALSKI",
          "TANAKA", "OKAFOR", "HADDAD", "LINDQVIST", "FISCHER", "NAKAMURA", "SILVA", "KHAN"]
GIVEN = ["ANNA", "JOHN", "MARIA", "PETER", "YUKI", "SAMIR", "DANIEL", "AMELIE", "THOMAS", "MAJA"]
MODALITIES = ["CT", "MR", "US", "CR", "DX", "MG", "PT", "NM"]


def fill(home: Home, n: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    db = home.connect()
    patients = max(1, n // 3)
    with transaction(db):
        db.conn.executemany(
            "INSERT INTO patients (id, patient_id, patient_name, patient_id_norm, patient_name_norm,"
            " patient_birth_date, patient_sex) VALUES (?, ?, ?, ?, ?, ?, ?)",
            ((i, f"PID{i:07d}", name, f"PID{i:07d}", name_norm(name),
              f"19{rng.randint(20, 99)}0{rng.randint(1, 9)}1{rng.randint(0, 9)}", rng.choice("MF"))
             for i in range(1, patients + 1)
             for name in [f"{rng.choice(FAMILY)}{i % 97}^{rng.choice(GIVEN)}"]))
        studies, series = [], []
        for i in range(n):
            uid = f"1.2.826.0.1.3680043.10.1125.9.{i}"
            day = f"20{rng.randint(10, 26):02d}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
            modality = rng.choice(MODALITIES)
            studies.append((uid, i % patients + 1, day, f"ACC{i:08d}", f"ACC{i:08d}",
                            f"{modality} STUDY {i % 50}", f"{modality} STUDY {i % 50}", modality,
                            rng.choice([None, None, None, "rad1", "rad2"]), "2026-01-01"))
            series.append((uid + ".1", uid, modality))
        db.conn.executemany(
            "INSERT INTO studies (study_instance_uid, patient_pk, study_date, accession_number,"
            " accession_norm, study_description, description_norm, modalities, assigned_to,"
            " imported_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", studies)
        db.conn.executemany("INSERT INTO series (series_instance_uid, study_instance_uid, modality)"
                            " VALUES (?, ?, ?)", series)
        db.conn.executemany("INSERT INTO patient_name_parts (patient_pk, part) VALUES (?, ?)",
                            [(pk, part) for pk, name in db.execute(
                                "SELECT id, patient_name FROM patients").fetchall()
                             for part in name_parts(name)])
    db.execute("ANALYZE")
    db.close()


QUERIES = {
    "everything (the opening worklist)": Query(),
    "patient name prefix (smith1*)": Query(patient_name="smith1*"),
    "patient name component (anna)": Query(patient_name="anna"),
    "patient id exact": Query(patient_id="PID0001234"),
    "patient id prefix (PID00012*)": Query(patient_id="PID00012*"),
    "accession exact": Query(accession="ACC00054321"),
    "accession prefix": Query(accession="ACC0005432*"),
    "date range (one month)": Query(date_from="20240301", date_to="20240331"),
    "modality + date range": Query(modality="MR", date_from="20240301", date_to="20240331"),
    "assigned to": Query(assigned_to="rad1", date_from="20250101"),
    "description contains (*study 7*)": Query(description="*STUDY 7*"),
}


def best_of(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        home = open_home(Path(folder) / "home")
        start = time.perf_counter()
        fill(home, args.n)
        fill_s = time.perf_counter() - start
        db = home.connect()
        scan = best_of(lambda: db.execute(
            "SELECT count(*) FROM studies s JOIN patients p ON p.id = s.patient_pk"
            " WHERE s.study_time || p.patient_sex = 'x'").fetchone())
        rows = []
        for label, query in QUERIES.items():
            found = len(study_uids(db, query))
            seconds = best_of(lambda: study_uids(db, query))
            rows.append({"query": label, "ms": round(seconds * 1000, 2), "studies": found,
                         "ratio_to_scan": round(seconds / scan, 3)})
        db.close()
    report = {"machine": machine(), "studies": args.n, "fill_s": round(fill_s, 1),
              "full_scan_ms": round(scan * 1000, 2), "queries": rows}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{args.n} studies; anchor: full scan {report['full_scan_ms']} ms")
    for r in rows:
        print(f"  {r['query']:<36} {r['ms']:>8} ms  {r['studies']:>6} studies  "
              f"{r['ratio_to_scan']:>6}x scan")


if __name__ == "__main__":
    main()
