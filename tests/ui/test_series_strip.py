"""The series strip: thumbnails off the GUI thread, placeholders for objects without pixels."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtGui import QImage

from ui.worklist import thumbnails
from ui.worklist.thumbnails import CANNOT_DECODE, IMAGE, NO_PIXELS, to_qimage


def _pixels(pixmap) -> np.ndarray:
    image = pixmap.toImage().convertToFormat(QImage.Format.Format_Grayscale8)
    buffer = np.frombuffer(image.constBits(), np.uint8, image.sizeInBytes())
    return buffer.reshape(image.height(), image.bytesPerLine())[:, :image.width()].copy()


def _select(qtbot, window, accession: str):
    model = window.model
    row = next(r for r in range(model.rowCount()) if model.study(r).get("accession_number") == accession)
    with qtbot.waitSignal(window.strip.loaded, timeout=10000):
        window.table.selectRow(row)
    qtbot.waitUntil(window.strip.is_complete, timeout=10000)
    return window.strip.cards()


def test_cards_show_thumbnails_and_an_rt_placeholder(qtbot, window):
    cards = _select(qtbot, window, "ACC001")
    assert [(c.series["modality"], c.series["number"]) for c in cards] == [
        ("CT", 1), ("CT", 2), ("RTSTRUCT", 3)]
    assert cards[0].title.text() == "#1 Axial 5mm"
    assert cards[0].count.text() == "3 images"
    for card in cards[:2]:
        assert card.status == IMAGE
        pixmap = card.pixmap()
        assert not pixmap.isNull()
        assert pixmap.width() <= 128 and pixmap.height() <= 128
        assert _pixels(pixmap).astype(float).var() > 100  # a phantom, not a flat tile
    rt = cards[2]
    assert rt.status == NO_PIXELS
    assert not rt.pixmap().isNull()
    assert rt.modality.text() == "RTSTRUCT"
    assert "Contours" in window.strip.heading.text() or "CT CHEST" in window.strip.heading.text()


def test_thumbnails_are_cached_by_series(qtbot, window):
    cards = _select(qtbot, window, "ACC001")
    uids = [c.series_uid for c in cards]
    _select(qtbot, window, "ACC003")
    cards = _select(qtbot, window, "ACC001")
    assert all(window.strip.thumbnails.cached(u) is not None for u in uids)
    assert all(c.status in (IMAGE, NO_PIXELS) for c in cards)


def test_undecodable_file_gets_a_placeholder(qtbot, window):
    cards = _select(qtbot, window, "ACC003")
    # Spoil the stored file of the MR series' middle image: the header stays,
    # the pixel data is cut off.
    from app import store
    from app.worklist import query as worklist
    db = window.home.connect()
    try:
        instances = worklist.instances_of(db, cards[0].series_uid)
    finally:
        db.close()
    path = store.absolute(window.home, instances[len(instances) // 2]["path"])
    data = path.read_bytes()
    path.write_bytes(data[:-3000])
    window.strip.thumbnails.forget()
    window.strip.reload()
    qtbot.waitUntil(lambda: bool(window.strip.cards()) and window.strip.is_complete(), timeout=10000)
    card = window.strip.cards()[0]
    assert card.status == CANNOT_DECODE
    assert not card.pixmap().isNull()


def test_to_qimage_copies_the_buffer():
    grey = (np.arange(64 * 48) % 256).astype(np.uint8).reshape(48, 64)
    image = to_qimage(grey)
    grey[:] = 0
    assert (image.width(), image.height()) == (64, 48)
    assert image.pixelColor(10, 0).red() == 10
    rgb = np.zeros((8, 5, 3), np.uint8)
    rgb[..., 0] = 200
    image = to_qimage(rgb[:, :, :])
    assert image.pixelColor(4, 7).red() == 200 and image.pixelColor(4, 7).green() == 0
    with pytest.raises(ValueError):
        to_qimage(np.zeros((4, 4), np.uint16))


def test_render_series_off_the_window(loaded_home, dicom_folder):
    from app.worklist import query as worklist
    db = loaded_home.connect()
    try:
        study = dicom_folder[1]["ACC001"]
        series = worklist.series_of(db, study)
        thumb = thumbnails.render_series(loaded_home, db, series[0]["series_instance_uid"])
        assert thumb.status == IMAGE and not thumb.image.isNull()
        assert thumbnails.render_series(loaded_home, db, series[2]["series_instance_uid"]).status == NO_PIXELS
    finally:
        db.close()
