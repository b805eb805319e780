"""The worklist model and table: lazy rows, SQL sorting, the QBE bar."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox

from app.worklist.query import Query
from tests.ui.conftest import shown_names
from ui import formatting
from ui.jobs import JobRunner
from ui.worklist.model import COLUMNS, WorklistModel


def _column(key: str) -> int:
    return next(i for i, c in enumerate(COLUMNS) if c.key == key)


def _searched(qtbot, model, action):
    with qtbot.waitSignal(model.searched, timeout=10000) as blocker:
        action()
    return blocker.args[0]


def test_model_passes_qtmodeltester(qtbot, qtmodeltester, loaded_home):
    runner = JobRunner()
    model = WorklistModel(loaded_home, runner, "")
    try:
        count = _searched(qtbot, model, lambda: model.search(Query(), audit=False))
        assert count == 4 == model.rowCount()
        qtmodeltester.check(model, force_py=True)
        qtmodeltester.check(model)
    finally:
        runner.shutdown()
        model.close()


def test_rows_are_formatted_and_fetched_lazily(qtbot, loaded_home):
    runner = JobRunner()
    model = WorklistModel(loaded_home, runner, "")
    try:
        _searched(qtbot, model, lambda: model.search(Query(patient_id="P002"), audit=False))
        assert model.cached_rows() == 0  # nothing fetched before the view asks
        first = _column("patient_name")
        row = [model.data(model.index(0, c)) for c in range(first, model.columnCount())]
        assert row[:5] == ["SMITH, Anna", "P002", "1975-11-22", "2022-06-15", "ACC003"]
        assert row[5:9] == ["MR", "MR BRAIN", "1", "2"]
        assert model.data(model.index(0, _column("series_count")),
                          Qt.ItemDataRole.TextAlignmentRole) & int(Qt.AlignmentFlag.AlignRight)
    finally:
        runner.shutdown()
        model.close()


def test_formatting():
    assert formatting.person_name("DOE^JOHN") == "DOE, John"
    assert formatting.person_name("van Gogh^Vincent^Willem") == "VAN GOGH, Vincent Willem"
    assert formatting.person_name("ANONYMOUS") == "ANONYMOUS"
    assert formatting.person_name("Yamada^Tarou=山田^太郎") == "YAMADA, Tarou"
    assert formatting.dicom_date("20240110") == "2024-01-10"
    assert formatting.dicom_date("") == ""


def test_window_lists_every_study_newest_first(window):
    dates = [window.model.data(window.model.index(r, _column("study_date")))
             for r in range(window.model.rowCount())]
    assert dates == ["2024-03-01", "2024-01-10", "2023-03-05", "2022-06-15"]
    assert window.count_label.text() == "4 studies"
    assert window.user_label.text().startswith(f"User: {window.user.name} (admin")
    assert str(window.home.root) in window.home_label.text()


def test_name_search_with_enter(qtbot, window):
    qbe = window.qbe
    qtbot.keyClicks(qbe.patient_name, "doe*")
    _searched(qtbot, window.model, lambda: qtbot.keyClick(qbe.patient_name, Qt.Key.Key_Return))
    assert shown_names(window) == ["DOE, John", "DOE, John"]
    assert window.count_label.text() == "2 studies"
    # any component: "*nna" matches SMITH^ANNA by its given name
    qbe.patient_name.clear()
    qtbot.keyClicks(qbe.patient_name, "*nna")
    _searched(qtbot, window.model, lambda: qtbot.keyClick(qbe.patient_name, Qt.Key.Key_Enter))
    assert shown_names(window) == ["SMITH, Anna"]
    _searched(qtbot, window.model, lambda: qtbot.mouseClick(qbe.clear_button, Qt.MouseButton.LeftButton))
    assert window.model.rowCount() == 4


def test_modality_and_dates(qtbot, window):
    qbe = window.qbe
    qbe.modality.setEditText("rtstruct")
    _searched(qtbot, window.model,
              lambda: qtbot.keyClick(qbe.modality.lineEdit(), Qt.Key.Key_Return))
    assert [window.model.data(window.model.index(r, _column("accession_number")))
            for r in range(window.model.rowCount())] == ["ACC001"]
    qbe.modality.setEditText("")
    from PySide6.QtCore import QDate
    qbe.date_from.setDate(QDate(2023, 1, 1))
    qbe.date_to.setDate(QDate(2023, 12, 31))
    assert qbe.date_range.currentText() == "Custom range"
    _searched(qtbot, window.model, lambda: qtbot.keyClick(qbe.date_to, Qt.Key.Key_Return))
    assert window.model.rowCount() == 1
    assert qbe.query() == Query(date_from="20230101", date_to="20231231")


def test_quick_date_range_searches_at_once(qtbot, window):
    qbe = window.qbe
    index = qbe.date_range.findText("Today")
    _searched(qtbot, window.model, lambda: qbe.date_range.activated.emit(index))
    assert window.model.rowCount() == 0  # every generated study is older
    assert window.count_label.text() == "0 studies"
    assert qbe.query().date_from == qbe.query().date_to != ""


def test_sort_by_date_via_header(qtbot, window):
    header = window.table.horizontalHeader()
    date = _column("study_date")
    assert header.sortIndicatorSection() == date
    rect = header.sectionViewportPosition(date) + header.sectionSize(date) // 2
    from PySide6.QtCore import QPoint
    # Clicking the sorted column flips it to ascending: a new SQL query.
    _searched(qtbot, window.model, lambda: qtbot.mouseClick(
        header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(rect, header.height() // 2)))
    assert header.sortIndicatorOrder() == Qt.SortOrder.AscendingOrder
    dates = [window.model.data(window.model.index(r, date)) for r in range(window.model.rowCount())]
    assert dates == sorted(dates) == ["2022-06-15", "2023-03-05", "2024-01-10", "2024-03-01"]
    assert (window.model.sort_key, window.model.descending) == ("study_date", False)
    # by patient name, through the header's sort indicator
    name = _column("patient_name")
    _searched(qtbot, window.model, lambda: header.setSortIndicator(name, Qt.SortOrder.AscendingOrder))
    assert shown_names(window) == ["BROWN, Peter", "DOE, John", "DOE, John", "SMITH, Anna"]


def test_sorting_by_birth_date(qtbot, window):
    header = window.table.horizontalHeader()
    births = _column("patient_birth_date")
    _searched(qtbot, window.model, lambda: header.setSortIndicator(births, Qt.SortOrder.AscendingOrder))
    shown = [window.model.data(window.model.index(r, births)) for r in range(window.model.rowCount())]
    assert shown == sorted(shown) and (window.model.sort_key, window.model.descending) == \
        ("birth_date", False)


def test_modality_combo_offers_rt_objects(window):
    combo: QComboBox = window.qbe.modality
    items = [combo.itemText(i) for i in range(combo.count())]
    assert {"CT", "MR", "RTSTRUCT", "RTPLAN", "RTDOSE"} <= set(items)
    assert window.qbe.patient_name.placeholderText() == "Doe* or *john"


def _accessions(model) -> list[str]:
    return [model.study(r).get("accession_number") for r in range(model.rowCount())]


def test_a_broadcast_write_updates_exactly_its_rows(qtbot, qtmodeltester, loaded_home, dicom_folder, admin,
                                                    tmp_path):
    """A delete, an import and an assignment announced through the home's
    broadcast move, add and remove only the studies they name: the current
    row and the ticks stay, and the list is never searched again."""
    from app.changes import trash
    from app.importing.importer import import_paths
    from app.worklist import assignments
    from tests.factories import uid, write_series
    from tests.ui.conftest import add_user
    from ui.cache_events import STUDIES, TRASH, CacheChange
    from ui.worklist.model import SELECT
    from ui.worklist.view import WorklistView

    home, uids = loaded_home, dicom_folder[1]
    add_user(home, "drlee", ["radiologist"])
    runner = JobRunner()
    model = WorklistModel(home, runner, admin.name)
    view = WorklistView(model)
    resets = []
    model.modelReset.connect(lambda: resets.append(1))
    try:
        _searched(qtbot, model, lambda: model.search(Query(), audit=False))
        assert _accessions(model) == ["ACC004", "ACC001", "ACC002", "ACC003"]
        qtmodeltester.check(model, force_py=True)  # the tester keeps checking every row step that follows
        searches, resets[:] = model.queries, []
        view.setCurrentIndex(model.index(model.row_of(uids["ACC002"]), 2))
        model.ticks.tick(uids["ACC001"])

        def write(title, fn, *study_uids, kinds=(STUDIES,)):
            with qtbot.waitSignal(model.updated, timeout=10000) as blocker:
                runner.write(home, title, fn, changed=CacheChange.of(*kinds, study_uids=study_uids))
            assert blocker.args == [list(study_uids)]

        write("Delete", lambda db, p, c: trash.delete(home, db, admin, uids["ACC004"]), uids["ACC004"],
              kinds=(STUDIES, TRASH))
        assert _accessions(model) == ["ACC001", "ACC002", "ACC003"]
        write_series(tmp_path / "new", 2, patient_id="P009", patient_name="NEW^ONE", study="n",
                     study_date="20231001", accession="NEW1")
        write("Import", lambda db, p, c: import_paths(home, [tmp_path / "new"], admin), uid("P009", "n"))
        assert _accessions(model) == ["ACC001", "NEW1", "ACC002", "ACC003"]
        assert model.study(1)["instance_count"] == 2
        write("Assign", lambda db, p, c: assignments.assign(db, admin, uids["ACC003"], "drlee"),
              uids["ACC003"])
        assigned = _column("assigned_to")
        assert model.data(model.index(3, assigned)) == "drlee" == model.study(3)["assigned_to"]

        assert model.study_uid(view.currentIndex().row()) == uids["ACC002"]  # the current row stays
        assert model.ticks.uids() == [uids["ACC001"]]
        assert model.data(model.index(0, SELECT), Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Checked
        assert model.queries == searches and resets == []  # row by row, never searched again
        # a write that does not name its studies: the list is searched again
        _searched(qtbot, model, lambda: runner.write(home, "Something", lambda db, p, c: None,
                                                     changed=CacheChange.of(STUDIES)))
        assert model.queries == searches + 1
    finally:
        runner.shutdown()
        model.close()


def test_an_advanced_reporting_study_shows_its_icon_until_its_measurements_leave(qtbot, loaded_home,
                                                                                 admin):
    """The status icon and tooltip "Advanced Reporting: N measurements" of a
    study holding a measurement report; a reallocation broadcast through the
    runner removes them (the measurements left with the series)."""
    from app.changes.reallocate import reallocate_series
    from app.measurements import record
    from ui.cache_events import STUDIES, CacheChange
    from ui.worklist import status_icons
    from tests.ui.cm_helpers import cached_uid

    lung = cached_uid(loaded_home, "series", "series_description", "Lung 1mm")
    record.measure_length(loaded_home, admin, lung, 1, (2, 2), (20, 2), "nodule")
    runner = JobRunner()
    model = WorklistModel(loaded_home, runner, admin.name)
    status = _column("status")

    def tooltip(accession: str):
        row = next(r for r in range(model.rowCount()) if model.study(r).get("accession_number") == accession)
        return model.data(model.index(row, status), Qt.ItemDataRole.ToolTipRole)

    try:
        _searched(qtbot, model, lambda: model.search(Query(), audit=False))
        qtbot.waitUntil(lambda: tooltip("ACC001") == "Advanced Reporting: 1 measurement", timeout=10000)
        row = next(r for r in range(model.rowCount()) if model.study(r).get("accession_number") == "ACC001")
        assert "reporting" in status_icons.states(model.status_row(row), admin.name)
        assert model.data(model.index(row, status), Qt.ItemDataRole.DecorationRole) is not None
        assert tooltip("ACC002") is None
        source = cached_uid(loaded_home, "studies", "accession_number", "ACC001")
        dest = cached_uid(loaded_home, "studies", "accession_number", "ACC002")
        done = []
        runner.write(loaded_home, "Reallocate", lambda db, progress, cancel: reallocate_series(
            loaded_home, db, admin, lung, dest), changed=CacheChange.of(STUDIES, study_uids=[source, dest]),
            on_success=done.append)
        qtbot.waitUntil(lambda: bool(done), timeout=20000)
        assert done[0].to_json()["measurements"] == {"moved": 0, "removed": 1}
        qtbot.waitUntil(lambda: tooltip("ACC001") is None and model.reporting.known(source), timeout=10000)
        assert tooltip("ACC002") is None
    finally:
        runner.shutdown()
        model.close()
