"""The patient card: a styled popup on hovering a patient name, loaded off the GUI thread."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QToolTip

from app.clock import now_iso
from tests.ui.conftest import row_of
from ui.worklist.model import column_index


def _hover(window, row: int, key: str = "patient_name") -> None:
    rect = window.table.visualRect(window.model.index(row, column_index(key)))
    QTest.mouseMove(window.table.viewport(), rect.center() - QPoint(rect.width() // 4, 0))


def _add_appointment(home, patient_id: str) -> None:
    """What a modality worklist query leaves in the cache (app.net fills it normally)."""
    db = home.connect()
    try:
        with db.conn:
            db.execute("INSERT INTO appointments (patient_id, date, time, description, modality,"
                       " location, node, fetched_at) VALUES (?, '20990312', '093000',"
                       " 'CT Chest follow-up', 'CT', 'CT 2', 'ris', ?)", [patient_id, now_iso()])
    finally:
        db.close()


def test_hovering_a_name_shows_the_card(qtbot, make_window, demo_home):
    _add_appointment(demo_home, "PID1003")
    window = make_window(demo_home)
    popup, card = window.card_popup, window.card_popup.card
    row = row_of(window, patient_id="PID1003")
    _hover(window, row)
    assert window.cards.get("PID1003") is None  # nothing read on the GUI thread
    with qtbot.waitSignal(popup.shown, timeout=5000) as shown:
        pass
    assert shown.args == ["PID1003"] and card.isVisible()
    assert card.windowFlags() & Qt.WindowType.ToolTip and not QToolTip.isVisible()
    text = card.text()
    assert "HADDAD, Samir" in text and "Male" in text
    assert "+33 155501234" in text
    assert "Confidentiality: VIP" in text and card.confidentiality.property("set") is True
    assert "PID1003  (HOSP)" in text and "1965-01-27" in text
    assert "2 studies in the cache" in text
    assert "2099-03-12 09:30  CT Chest follow-up" in text and "CT 2" in text
    # to another column: the card goes
    _hover(window, row, "accession_number")
    qtbot.waitUntil(lambda: not card.isVisible())
    # another patient: no confidentiality level, shown as such; the card comes from the cache after
    other = row_of(window, patient_id="PID1001")
    _hover(window, other)
    qtbot.waitUntil(lambda: card.isVisible() and card.patient_id == "PID1001")
    assert "Confidentiality: none recorded" in card.text()
    assert card.confidentiality.property("set") is False
    assert "None scheduled" in card.text()
    _hover(window, row, "accession_number")
    qtbot.waitUntil(lambda: not card.isVisible())
    _hover(window, row)
    assert window.cards.get("PID1003") is not None
    qtbot.waitUntil(lambda: card.isVisible() and card.patient_id == "PID1003")


def test_the_card_lists_every_record_of_the_patient_id(qtbot, make_window, demo_home, tmp_path):
    """A second record of PID1003 (no issuer, no confidentiality): hovering
    either record's row shows both, and the VIP level stays on the badge."""
    from app.home import os_login
    from app.importing.importer import import_paths
    from tests.factories import ct_dataset, write

    write(ct_dataset(patient_id="PID1003", patient_name="HADDAD^SAMIR", study="bare"),
          tmp_path / "bare" / "1.dcm")
    result = import_paths(demo_home, [tmp_path / "bare"], os_login())
    assert (result.imported, result.rejected) == (1, [])
    window = make_window(demo_home)
    popup, card = window.card_popup, window.card_popup.card
    _hover(window, row_of(window, patient_id="PID1003"))
    with qtbot.waitSignal(popup.shown, timeout=5000):
        pass
    text = card.text()
    assert "2 records with this patient ID" in text
    assert "Issuer HOSP: HADDAD, Samir" in text and "2 studies" in text
    assert "Issuer (none): HADDAD, Samir" in text and "1 study" in text
    assert "Confidentiality: VIP" in text and card.confidentiality.property("set") is True
