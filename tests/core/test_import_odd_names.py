"""`import --link` of files whose names are not valid UTF-8 (possible on
POSIX file systems): the row keeps the exact bytes, and every reader of the
stored path (export, anonymised export, burn, render, send, delete) reaches
the same file."""

from __future__ import annotations

import io
import json
import os
import sys
import zipfile
from pathlib import Path

import pydicom
import pytest

from app import store
from app.accounts import accounts
from app.worklist import query as worklist
from app.dicom.render import render_preview
from app.home import os_login
from app.importing.importer import import_paths
from tests.factories import ct_dataset, write, write_series

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="names are UTF-16 on Windows")

ODD = os.fsdecode(b"\xff\xfe.dcm")          # lone surrogates once decoded
ODD_FOLDER = os.fsdecode(b"caf\xe9")        # latin-1 e acute


@pytest.fixture
def odd(home, tmp_path):
    """A folder (itself named in latin-1) with one file named in no encoding
    at all beside two plain ones, imported with --link."""
    folder = tmp_path / "in" / ODD_FOLDER
    plain = write_series(folder, count=2)
    ds = ct_dataset(number=3)
    write(ds, folder / ODD)
    result = import_paths(home, [tmp_path / "in"], os_login(), mode="link")
    return result, ds, folder / ODD, plain


def _row(home, sop):
    db = home.connect()
    try:
        return db.execute("SELECT path, linked FROM instances WHERE sop_instance_uid = ?", [sop]).fetchone()
    finally:
        db.close()


def test_link_import_keeps_the_whole_batch_and_the_exact_name(home, odd):
    result, ds, path, plain = odd
    assert (result.imported, result.rejected) == (3, [])
    stored, linked = _row(home, ds.SOPInstanceUID)
    assert linked == 1
    stored.encode("utf-8")                   # SQLite text
    assert os.fsencode(store.absolute(home, stored)) == os.fsencode(path.resolve())
    assert store.absolute(home, stored).read_bytes() == path.read_bytes()
    # a plain name in the oddly named folder reads back the same way
    other = _row(home, pydicom.dcmread(plain[0]).SOPInstanceUID)[0]
    assert store.absolute(home, other) == plain[0].resolve()


def test_plain_names_are_kept_as_they_are(home, tmp_path):
    plain = write_series(tmp_path / "plain", count=1)
    import_paths(home, [tmp_path / "plain"], os_login(), mode="link")
    assert _row(home, pydicom.dcmread(plain[0]).SOPInstanceUID)[0] == str(plain[0].resolve())


def test_an_odd_name_is_printable_in_the_import_command(home, tmp_path, capsys):
    from app.cli import main

    folder = tmp_path / "cli"
    write(ct_dataset(number=5), folder / ODD)
    (folder / os.fsdecode(b"broken\xff.dcm")).write_bytes(b"not dicom")
    code = main(["--home", str(home.root), "--json", "import", "--link", str(folder)])
    out = capsys.readouterr()
    assert code == 6
    document = json.loads(out.out)
    assert document["imported"] == 1
    assert [r["path"].endswith("broken\\xff.dcm") for r in document["rejected"]] == [True]
    assert "broken\\xff.dcm" in out.err


def test_readers_of_the_stored_path_reach_the_file(home, odd, tmp_path):
    result, ds, path, plain = odd
    from app.export import export_zip

    db = home.connect()
    user = accounts.get_user(db, os_login())
    series = worklist.instances_of(db, ds.SeriesInstanceUID)
    db.close()
    # render (the viewer and the thumbnails read the row's path through store.absolute)
    row = next(r for r in series if r["sop_instance_uid"] == ds.SOPInstanceUID)
    pixels = render_preview(store.absolute(home, row["path"]), max_size=32)
    assert pixels is not None and pixels.shape == (32, 32)
    # plain export
    export_zip(home, user, [ds.StudyInstanceUID], tmp_path / "plain.zip")
    with zipfile.ZipFile(tmp_path / "plain.zip") as z:
        found = {pydicom.dcmread(io.BytesIO(z.read(n)), force=True).SOPInstanceUID
                 for n in z.namelist() if not n.upper().endswith(("DICOMDIR", ".TXT", ".HTM", ".HTML", ".CSV", ".JSON"))
                 and z.read(n)[128:132] == b"DICM"}
    assert ds.SOPInstanceUID in found and len(found) == 3
    # anonymised export with a DICOMDIR (its UID is derived from the first path)
    anon = export_zip(home, user, [ds.StudyInstanceUID], tmp_path / "anon.zip", anonymize=True,
                      dicomdir=True)
    assert anon is not None and (tmp_path / "anon.zip").is_file()
    with zipfile.ZipFile(tmp_path / "anon.zip") as z:
        assert sum(1 for n in z.namelist() if z.read(n)[128:132] == b"DICM") >= 3


def test_burn_and_delete_of_a_linked_odd_name(home, odd, tmp_path):
    result, ds, path, plain = odd
    from app.changes import trash
    from app.media import burn

    db = home.connect()
    user = accounts.get_user(db, os_login())
    burnt = burn(home, user, [ds.StudyInstanceUID], iso_path=tmp_path / "disc.iso")
    assert (tmp_path / "disc.iso").stat().st_size > 0
    assert burnt is not None
    trash.delete(home, db, user, ds.StudyInstanceUID, reason="test")
    db.close()
    assert path.is_file()                     # a linked file is another's: it stays where it is
    stored, _ = _row(home, ds.SOPInstanceUID)
    assert store.absolute(home, stored) == path.resolve()
