"""The disc's text and web content: README.TXT, INDEX.HTM and IHE_PDI/ with
JPEG previews; well-formed XHTML whose every link resolves on the disc."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from PIL import Image

from app import __version__
from app.media import manifest, selection
from app.media.stage import stage
from tests.media.conftest import study_uids


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("href", "src") and value:
                self.links.append(value)


def links_of(page: Path) -> list[str]:
    parser = _Links()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser.links


@pytest.fixture
def disc(media_home, tmp_path):
    db = media_home.connect()
    try:
        studies = selection.load(media_home, db, study_uids(media_home))
    finally:
        db.close()
    return stage(studies, tmp_path / "disc", label="web test"), studies


def test_every_link_of_every_page_resolves_on_the_disc(disc):
    staged, _studies = disc
    pages = [staged.folder / "INDEX.HTM"] + sorted((staged.folder / "IHE_PDI").glob("*.HTM"))
    assert len(pages) == 1 + len(staged.studies)
    checked = 0
    for page in pages:
        for link in links_of(page):
            url = urlparse(link)
            assert not url.scheme and not url.netloc, f"{page.name}: external link {link}"
            assert link == link.upper() or link.startswith("../"), link  # names as the disc shows them
            target = (page.parent / unquote(url.path)).resolve()
            assert target.is_file(), f"{page.name}: {link} does not resolve"
            assert staged.folder.resolve() in target.parents
            checked += 1
    assert checked > 10


def test_pages_are_well_formed_xhtml_without_scripts(disc):
    staged, _studies = disc
    for page in [staged.folder / "INDEX.HTM", *(staged.folder / "IHE_PDI").glob("*.HTM")]:
        text = page.read_text(encoding="utf-8")
        assert text.startswith("<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Strict//EN\"")
        root = ET.fromstring(text.split("\n", 1)[1])  # parses: well-formed
        assert root.tag == "{http://www.w3.org/1999/xhtml}html"
        assert "<script" not in text.lower()


def test_index_lists_patients_studies_and_series_with_previews(disc):
    staged, studies = disc
    index = (staged.folder / "INDEX.HTM").read_text(encoding="utf-8")
    for study in studies:
        assert study.accession_number in index
    assert "Lindqvist, Maja" in index and "README.TXT" in index
    rt_page = next(p for p in (staged.folder / "IHE_PDI").glob("*.HTM")
                   if "RT Planning" in p.read_text(encoding="utf-8"))
    text = rt_page.read_text(encoding="utf-8")
    assert "RTSTRUCT" in text and "no preview" in text  # an object without pixels says so
    previews = sorted((staged.folder / "IHE_PDI").rglob("*.JPG"))
    image_series = sum(1 for s in studies for se in s.series if se.modality in ("CT", "MR", "RTDOSE"))
    assert len(previews) == image_series
    for jpeg in previews:
        with Image.open(jpeg) as im:
            assert im.format == "JPEG" and max(im.size) <= 512
            assert im.getextrema() != (0, 0)  # not a blank picture


def test_readme_names_the_writer_the_date_and_the_contents(disc):
    staged, studies = disc
    text = (staged.folder / "README.TXT").read_bytes().decode("utf-8")
    assert f"StudyDesk {__version__}" in text and "Written on" in text
    assert "\r\n" in text and "\n" not in text.replace("\r\n", "")
    for study in studies:
        assert study.accession_number in text
    assert "Lindqvist, Maja" in text and "INDEX.HTM" in text and "DICOMDIR" in text


def test_manifest_covers_every_other_file(disc):
    staged, _studies = disc
    listed = manifest.parse((staged.folder / "MANIFEST.TXT").read_text(encoding="ascii"))
    files = set(manifest.files_under(staged.folder)) - {"MANIFEST.TXT"}
    assert set(listed) == files
    for rel in ("DICOMDIR", "README.TXT", "INDEX.HTM"):
        assert listed[rel] == manifest.sha256_of(staged.folder / rel)
    assert manifest.verify_tree(staged.folder, listed).ok


def test_without_web_content(media_home, tmp_path):
    db = media_home.connect()
    try:
        studies = selection.load(media_home, db, study_uids(media_home)[:1])
    finally:
        db.close()
    staged = stage(studies, tmp_path / "plain", label="", web_content=False)
    assert not (staged.folder / "INDEX.HTM").exists() and not (staged.folder / "IHE_PDI").exists()
    assert "DICOM ONLY" in (staged.folder / "README.TXT").read_text(encoding="utf-8")
