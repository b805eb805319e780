"""Differential fuzzing of the one byte-level DICOM layer against pydicom.

Mutants of pydicom's test files, the demo set and a few seeds of our own
(deep nesting, UN elements with identifiers inside) are made with a fixed
random seed: cuts, length changes, huge lengths, wrong VRs, UN VRs, bit
flips, deleted and inserted bytes, nested sequences spliced in. For each:

* the strict reader (app/dicom/elements.py) raises only Malformed or
  NotCovered, the header readers only Unreadable (the same from bytes and as
  received), the byte-level de-identification only Unsupported or Refused;
* a file the reader accepts, pydicom reads whole (every value converted),
  and both return the same elements: same tags at every level, the same
  bytes for every value, the same items; a header we accept is the header
  pydicom's data set gives;
* a file the reader refuses while pydicom reads it breaks one of the rules
  listed in KNOWN_RULES (each says why such a file is not sound), and the
  reason names the byte offset.

Bounded in time (a deadline, a cap on the count): well under a minute.
"""

from __future__ import annotations

import io
import random
import re
import struct
import sys
import time
import warnings

import pydicom
import pytest
from pydicom.dataelem import RawDataElement, convert_raw_data_element
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag

from app.deid import Deidentifier, Profile
from app.deid.raw import RawDeidentifier
from app.deid.raw_parse import Refused, Unsupported
from app.dicom import element_rules, files, reading
from app.dicom.reading import Unreadable, read_header, read_header_in_memory
from tests.deid.conftest import readable_test_files
from tests.factories import ct_dataset

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

SEED = 13
DEADLINE = 25.0      # seconds of mutants at most
MOST = 6000          # mutants at most
LEAST = 400          # a run that did less than this proves little
DELIMITER = struct.pack("<HHL", 0xFFFE, 0xE0DD, 0)

# Why a file that pydicom reads, but the strict reader refuses, is not sound.
KNOWN_RULES = {
    # pydicom reads what is there and stops: values and data sets cut short
    r"declares \d+ bytes, (the file|the inflated data set|its item .*|its sequence .*) ends at byte \d+": "a value longer than its container",
    r"(an element|an item|a fragment) header at byte \d+ (of .* )?(in .* )?is cut": "a header cut short",
    r"the header of .* at byte \d+ is cut": "a header cut short",
    r"has no (item|sequence) delimiter": "an undefined length never closed",
    # pydicom guesses: an element without a VR is read as implicit VR (PS3.5 7.1.2 forbids mixing)
    r"at byte \d+ has no valid VR": "an explicit VR that is not one of PS3.5's",
    # pydicom scans for a delimiter: only SQ, UN and encapsulated pixel data may be undefined (PS3.5 7.1.3)
    r"has an undefined length, which only sequences": "an undefined length on a value",
    r"expected a fragment item at byte \d+": "encapsulated pixel data not made of items (PS3.5 A.4)",
    r"expected an item at byte \d+": "a sequence holding something else than items (PS3.5 7.5)",
    r"at byte \d+ is out of place": "a delimiter or item outside a sequence (pydicom stops the data set there)",
    r"(item|sequence) delimiter at byte \d+ has length \d+, not 0": "a delimiter with a length (PS3.5 7.5.2)",
    r"encapsulated .* has VR \w+, not OB": "encapsulated pixel data in another VR (PS3.5 A.4)",
    r"at byte \d+ has VR \w+, not CS": "a Specific Character Set that is not CS",
    r"not a multiple of \d+ as its VR needs": "numbers of the wrong size for their VR (PS3.5 6.2)",
    r"holds \d+ bytes, the image .* needs \d+": "pixel data short of Rows x Columns x frames x samples x bits",
    r"without (Rows|Columns|BitsAllocated|PixelRepresentation)": "pixel data without the Image Pixel module (PS3.3 C.7.6.3)",
    r"an image .* without its \(7FE0,0010\) PixelData": "an image without its pixel data",
    r"nests sequences deeper than \d+ levels": "nesting past the reader's limit (element_rules.MAX_DEPTH)",
    r"no data set after the File Meta Information": "a file of File Meta Information alone",
    r"File Meta Information not in explicit VR": "File Meta Information must be explicit VR little endian (PS3.10 7.1)",
    r"a command group \(0000\) at byte \d+ in a file": "command elements are not stored in files (PS3.10 7.1)",
    r"the deflated data set at byte \d+": "a deflated data set that does not inflate completely",
}


# -- the two readings ------------------------------------------------------------------------


def pydicom_tree(data: bytes):
    """pydicom's full read: {tag: element} at every level, every value converted.
    pydicom recurses a few frames a level: past about 150 levels it needs a
    higher recursion limit than Python's default (the reader takes up to
    element_rules.MAX_DEPTH)."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 40 * element_rules.MAX_DEPTH))
    try:
        return _pydicom_tree(data)
    finally:
        sys.setrecursionlimit(limit)


def _pydicom_tree(data: bytes):
    ds = pydicom.dcmread(io.BytesIO(data), force=True)

    def walk(d: Dataset) -> dict:
        out = {}
        for tag in list(d._dict.keys()):
            elem = d._dict[tag]
            if isinstance(elem, RawDataElement):
                converted = d[tag]
                if converted.VR == "SQ":
                    out[int(tag)] = ("sq", [walk(i) for i in converted.value], elem.value)
                else:
                    out[int(tag)] = ("raw", elem.VR, elem.value)
            elif elem.VR == "SQ":
                out[int(tag)] = ("sq", [walk(i) for i in elem.value], None)
            else:
                out[int(tag)] = ("val", elem.VR, elem.value)
        return out

    tree = walk(ds)
    for elem in ds.iterall():
        elem.value  # noqa: B018 - every value read
    return ds, tree


def our_tree(data: bytes) -> dict:
    parsed = files.parse_file(data)
    buffer, implicit, little = parsed.data, parsed.parsed.implicit, parsed.parsed.little
    order = "<" if little else ">"

    def walk(level: list) -> dict:
        out = {}
        for tag, vr, start, value, length, items in level:
            if items is not None:
                out[tag] = ("sq", [walk(i) for i in items])
                continue
            raw = bytes(buffer[value:value + length])
            if tag == element_rules.PIXEL_DATA and raw.endswith(DELIMITER) and value - start in (8, 12):
                if struct.unpack_from(order + "L", buffer, value - 4)[0] == element_rules.UNDEFINED:
                    raw = raw[:-8]  # pydicom's value of encapsulated pixel data stops before it
            out[tag] = ("raw", vr, raw, implicit, little)
        return out

    return walk(parsed.elements)


def differences(ours: dict, theirs: dict, where: str = "") -> list[str]:
    problems = []
    for tag in sorted(set(ours) | set(theirs)):
        here = f"{where}{element_rules.describe(tag)}"
        if tag not in ours or tag not in theirs:
            problems.append(f"{here} only in {'ours' if tag in ours else 'pydicom'}")
            continue
        a, b = ours[tag], theirs[tag]
        if a[0] == "sq" and b[0] == "sq":
            if len(a[1]) != len(b[1]):
                problems.append(f"{here}: {len(a[1])} items against {len(b[1])}")
                continue
            for n, (x, y) in enumerate(zip(a[1], b[1])):
                problems.extend(differences(x, y, f"{here}[{n}]."))
        elif a[0] == "raw" and b[0] == "sq":  # a UN pydicom reads as the sequence it is
            if b[2] is None or a[2] != b[2]:
                problems.append(f"{here}: bytes here, a sequence for pydicom")
        elif a[0] == "raw" and b[0] == "raw":
            if a[2] != (b[2] or b""):
                problems.append(f"{here}: {a[2][:24]!r} against {(b[2] or b'')[:24]!r}")
        elif a[0] == "raw" and b[0] == "val":  # the character set, converted as read
            _, vr, raw, implicit, little = a
            mine = convert_raw_data_element(
                RawDataElement(BaseTag(tag), vr, len(raw), raw, 0, implicit, little)).value
            if mine != b[2]:
                problems.append(f"{here}: {mine!r:.40} against {b[2]!r:.40}")
        else:
            problems.append(f"{here}: a sequence here, a value for pydicom")
    return problems


# -- the corpus and the mutations ----------------------------------------------------------


def encoded(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def opening(depth: int) -> bytes:
    return (struct.pack("<HH2s2xL", 0x0040, 0xA730, b"SQ", 0xFFFFFFFF)
            + struct.pack("<HHL", 0xFFFE, 0xE000, 0xFFFFFFFF)) * depth


def closing(depth: int) -> bytes:
    return (struct.pack("<HHL", 0xFFFE, 0xE00D, 0) + DELIMITER) * depth


def seeds() -> list[tuple[str, bytes]]:
    """Files of our own: deep nesting, UN elements with identifiers inside."""
    out = []
    data = encoded(ct_dataset(patient_id="DEEP", size=8))
    at = data.index(b"\xe0\x7f\x10\x00")
    leaf = struct.pack("<HH2sH", 0x0008, 0x0100, b"SH", 2) + b"X "
    out.append(("deep", data[:at] + opening(60) + leaf + closing(60) + data[at:]))
    # OtherPatientIDsSequence as UN (its items in implicit VR), a private UN with a name
    ds = ct_dataset(patient_id="UN1", patient_name="HIDDEN^NAME", size=8)
    other = Dataset()
    other.PatientID, other.PatientName = "UN-OTHER", "HIDDEN^NAME"
    ds.OtherPatientIDsSequence = Sequence([other])
    ds.add_new(0x00090010, "LO", "ACME 1.0")
    ds.add_new(0x00091001, "UN", b"HIDDEN^NAME ")
    explicit = bytearray(encoded(ds))
    at = explicit.index(struct.pack("<HH", 0x0010, 0x1002))
    length = struct.unpack_from("<L", explicit, at + 8)[0]
    inner = Dataset()
    inner.PatientID, inner.PatientName = "UN-OTHER", "HIDDEN^NAME"
    fp = pydicom.filebase.DicomBytesIO()
    fp.is_little_endian, fp.is_implicit_VR = True, True
    pydicom.filewriter.write_dataset(fp, inner)
    body = fp.getvalue()
    item = struct.pack("<HHL", 0xFFFE, 0xE000, len(body)) + body
    un = struct.pack("<HH2s2xL", 0x0010, 0x1002, b"UN", len(item)) + item
    explicit[at:at + 12 + length] = un
    out.append(("UN sequence", bytes(explicit)))
    undefined = bytearray(explicit)
    at = undefined.index(struct.pack("<HH", 0x0010, 0x1002))
    item_undefined = (struct.pack("<HHL", 0xFFFE, 0xE000, 0xFFFFFFFF) + body
                      + struct.pack("<HHL", 0xFFFE, 0xE00D, 0))
    undefined[at:at + len(un)] = (struct.pack("<HH2s2xL", 0x0010, 0x1002, b"UN", 0xFFFFFFFF)
                                  + item_undefined + DELIMITER)
    out.append(("UN sequence, undefined length", bytes(undefined)))
    return out


def headers(data: bytes) -> list[tuple[int, object, int, int]]:
    """(start, VR, where the length is, its size) of every element of the original."""
    parsed = files.parse_file(data)
    if parsed.deflated:
        return []
    out = []

    def walk(level: list, implicit: bool) -> None:
        for tag, vr, start, value, length, items in level:
            if value - start == 12:
                out.append((start, vr, start + 8, 4))
            elif implicit or vr is None:
                out.append((start, vr, start + 4, 4))
            else:
                out.append((start, vr, start + 6, 2))
            for item in items or ():
                walk(item, implicit)

    walk(parsed.elements, parsed.parsed.implicit)
    for tag, vr, start, value, length, items in parsed.meta:
        out.append((start, vr, start + (8 if value - start == 12 else 6), 4 if value - start == 12 else 2))
    return out


VRS = sorted(element_rules.VRS)
KINDS = ["cut", "cut", "length", "length", "huge", "vr", "un", "flip", "delete", "insert", "nest"]


def mutate(data: bytes, spots: list, rng: random.Random) -> tuple[str, bytes]:
    kind = rng.choice(KINDS)
    b = bytearray(data)
    if kind == "cut" or not spots:
        return "cut", bytes(b[:rng.randrange(1, len(b))])
    start, vr, at, size = rng.choice(spots)
    fmt, top = ("<L", 0xFFFFFFFF) if size == 4 else ("<H", 0xFFFF)
    old = struct.unpack_from(fmt, b, at)[0]
    if kind == "length":
        struct.pack_into(fmt, b, at, max(0, min(top, old + rng.choice([-8, -4, -2, -1, 1, 2, 4, 8, 100]))))
    elif kind == "huge":
        struct.pack_into(fmt, b, at, rng.choice([top, top - 1, top // 2, top // 2 + 1]))
    elif kind == "vr":
        if vr is None:
            struct.pack_into(fmt, b, at, rng.randrange(0, top))
        else:
            b[start + 4:start + 6] = rng.choice([rng.choice(VRS).encode(), b"ZZ", b"us", b"\x00\x01"])
    elif kind == "un":
        b[start + 4:start + 6] = b"UN"
    elif kind == "flip":
        pos = rng.randrange(start, min(len(b), start + 12))
        b[pos] ^= 1 << rng.randrange(8)
    elif kind == "delete":
        pos = rng.randrange(start, len(b))
        del b[pos:pos + rng.choice([1, 2, 4, 8])]
    elif kind == "insert":
        pos = rng.randrange(start, len(b))
        b[pos:pos] = bytes(rng.choice([1, 2, 4, 8]))
    elif kind == "nest":  # sequences spliced in before an element, closed or not
        depth = rng.choice([1, 5, 50, 300, element_rules.MAX_DEPTH + 1])
        leaf = struct.pack("<HH2sH", 0x0008, 0x0100, b"SH", 2) + b"X "
        b[start:start] = opening(depth) + leaf + closing(rng.choice([depth, depth, depth - 1]))
    return kind, bytes(b)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> list[tuple[str, bytes, list]]:
    from app.demo import generate_demo

    files = [(p.name, p.read_bytes()) for p in readable_test_files() if p.stat().st_size < 100_000]
    demo = tmp_path_factory.mktemp("demo")
    kinds = {}
    for path in generate_demo(demo, patients=1):
        kinds.setdefault(pydicom.dcmread(path, stop_before_pixels=True).Modality, path)
    files += [(f"demo {modality}", path.read_bytes()) for modality, path in kinds.items()]
    files += seeds()
    out = []
    for name, data in files:
        try:
            out.append((name, data, headers(data)))
        except (element_rules.Malformed, element_rules.NotCovered):
            out.append((name, data, []))  # refused as it is (a truncated test file): cuts only
    return out


# -- the test ----------------------------------------------------------------------------------


def header_outcome(read, data) -> object:
    try:
        return read(data)
    except Unreadable as e:
        return f"refused: {e}"


def test_the_seeds_read_as_pydicom_reads_them():
    for name, data in seeds():
        ds, theirs = pydicom_tree(data)
        assert differences(our_tree(data), theirs) == [], name
    # and the byte-level de-identification leaves UN in a public group to pydicom
    with pytest.raises(Unsupported):
        RawDeidentifier(Deidentifier(Profile([]), b"k")).run(seeds()[1][1], [], "f")


def test_mutants_are_read_as_pydicom_reads_them_or_refused_for_a_known_rule(corpus):
    rng = random.Random(SEED)
    raw = RawDeidentifier(Deidentifier(Profile([]), b"fuzz"))
    rules = [(re.compile(pattern), why) for pattern, why in KNOWN_RULES.items()]
    problems: list[str] = []
    seen: dict[str, int] = {}
    started = time.monotonic()
    count = 0
    while count < MOST and time.monotonic() - started < DEADLINE:
        name, data, spots = rng.choice(corpus)
        kind, mutant = mutate(data, spots, rng)
        count += 1
        label = f"{name} ({kind} #{count})"
        began = time.monotonic()
        try:
            ours = ("ok", our_tree(mutant))
        except (element_rules.Malformed, element_rules.NotCovered) as e:
            ours = ("refused", str(e))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                theirs = ("ok", *pydicom_tree(mutant))
        except Exception as e:  # noqa: BLE001 - pydicom fails in many ways on broken files
            theirs = ("failed", f"{type(e).__name__}: {e}")
        header = header_outcome(read_header, mutant)
        if header_outcome(read_header_in_memory, mutant) != header:
            problems.append(f"{label}: the readers disagree")
        if ours[0] == "ok":
            try:
                raw.run(mutant, [], "f")
            except (Unsupported, Refused):
                pass
            if theirs[0] != "ok":
                problems.append(f"{label}: accepted, but pydicom fails: {theirs[1][:200]}")
            else:
                problems.extend(f"{label}: {p}" for p in differences(ours[1], theirs[2])[:3])
                if not isinstance(header, str):  # the header pydicom's data set gives
                    expected = reading._header(theirs[1], len(mutant), header.transfer_syntax_uid)
                    if expected != header:
                        problems.append(f"{label}: another header than pydicom's")
        elif theirs[0] == "ok":
            why = next((why for rule, why in rules if rule.search(ours[1])), None)
            if why is None or not re.search(r"byte \d+", ours[1]):
                problems.append(f"{label}: refused for no known rule: {ours[1]}")
            else:
                seen[why] = seen.get(why, 0) + 1
        if time.monotonic() - began > 2.0:
            problems.append(f"{label}: took {time.monotonic() - began:.1f} s")
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:30])
    print(f"{count} mutants in {time.monotonic() - started:.1f} s; refusals pydicom reads past: {seen}")
    assert count >= LEAST, f"only {count} mutants in {DEADLINE} s"
    assert len(seen) >= 8, seen  # the mutations reach many of the rules
