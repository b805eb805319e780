"""The prior study side by side, as a radiologist compares two exams: the
"Prior" button offers the patient's earlier studies with a comparable
series (same modality and plane), choosing one shows it beside the current
series, and scrolling either shows the other's image nearest in slice
position, not the same image number. Sync off, each scrolls alone; on
again, the pair the user lined up stays matched.

Data: the demo's planning CT (PID1001, 2024-04-15, 30 slices of 3 mm) and
copies of it written here as earlier studies of the same patient: one in
the same frame of reference, every other slice (6 mm) shifted 4.5 mm
along the table, with a sagittal series of the same name beside it; one in
a frame of its own, shifted 100 mm; and an MR study (another modality,
never offered). The expected slices are computed from the files' Image
Position Patient, not from the viewer.
"""

from __future__ import annotations

import os

import numpy as np
import pydicom
import pytest

if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pydicom.uid import generate_uid  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402

from app import store  # noqa: E402
from app.home import os_login  # noqa: E402
from app.importing.demo import import_demo  # noqa: E402
from app.importing.importer import import_paths  # noqa: E402
from app.startup import open_home  # noqa: E402

SHIFT_SAME_FRAME = 4.5
SHIFT_OWN_FRAME = 100.0


def _copy(files, folder, *, study: str, date: str, series: str, description: str,
          shift: float, frame: str | None = None, modality: str = "CT",
          sagittal: bool = False) -> list[float]:
    """Write the files as a series of an earlier study; returns the z of each
    written image in instance-number order."""
    folder.mkdir(parents=True, exist_ok=True)
    zs = []
    for number, path in enumerate(files, start=1):
        ds = pydicom.dcmread(path)
        ds.StudyInstanceUID, ds.StudyDate, ds.StudyTime = study, date, "100000"
        ds.AccessionNumber, ds.StudyID = f"P{date}", date[-4:]
        ds.StudyDescription = f"Earlier {modality}"
        ds.SeriesInstanceUID, ds.SeriesDescription, ds.SeriesNumber = series, description, 7
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.InstanceNumber = number
        if frame:
            ds.FrameOfReferenceUID = frame
        if modality != "CT":
            ds.Modality = modality
            ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.4"
        if sagittal:
            ds.ImageOrientationPatient = [0, 1, 0, 0, 0, -1]
        x, y, z = (float(v) for v in ds.ImagePositionPatient)
        ds.ImagePositionPatient = [x, y, z + shift]
        ds.SliceLocation = z + shift
        zs.append(z + shift)
        ds.save_as(folder / f"{number:04d}.dcm", enforce_file_format=True)
    return zs


@pytest.fixture(scope="module")
def prior_home(tmp_path_factory):
    """(home, {name: series UID}, {name: z per image in display order})."""
    home = open_home(tmp_path_factory.mktemp("priors") / "home")
    import_demo(home, os_login(), patients=1)
    db = home.connect()
    try:
        current, = db.execute("SELECT series_instance_uid FROM series WHERE modality = 'CT'"
                              " AND series_description = 'RT Planning CT 3mm'").fetchone()
        rows = db.execute("SELECT path FROM instances WHERE series_instance_uid = ?"
                          " ORDER BY instance_number", [current]).fetchall()
    finally:
        db.close()
    files = [store.absolute(home, r[0]) for r in rows]
    zs = {"current": [float(pydicom.dcmread(f).ImagePositionPatient[2]) for f in files]}
    src = tmp_path_factory.mktemp("prior-src")
    uids = {"current": current, "same": generate_uid(), "sagittal": generate_uid(),
            "own": generate_uid(), "mr": generate_uid()}
    recent = generate_uid()
    zs["same"] = _copy(files[::2], src / "same", study=recent, date="20230110", series=uids["same"],
                       description="Planning CT 6mm", shift=SHIFT_SAME_FRAME)
    # the same words as the current series, but sagittal: never put beside an axial stack
    _copy(files[:5], src / "sagittal", study=recent, date="20230110", series=uids["sagittal"],
          description="RT Planning CT 3mm", shift=0.0, sagittal=True)
    zs["own"] = _copy(files, src / "own", study=generate_uid(), date="20210302",
                      series=uids["own"], description="RT Planning CT 3mm",
                      shift=SHIFT_OWN_FRAME, frame=generate_uid())
    _copy(files[:4], src / "mr", study=generate_uid(), date="20220505", series=uids["mr"],
          description="RT Planning CT 3mm", shift=0.0, modality="MR")
    result = import_paths(home, [src], os_login())
    assert not result.rejected, result.rejected
    return home, uids, zs


@pytest.fixture
def viewer(qtbot, qapp, prior_home):
    """The viewer on the current planning CT, its first image painted and
    the prior studies looked up."""
    from app.accounts import accounts
    from ui.app import apply_theme
    from ui.jobs import JobRunner
    from ui.viewer import open_viewer

    apply_theme(qapp)
    home, uids, _ = prior_home
    runner = JobRunner()
    db = home.connect()
    user = accounts.get_user(db, os_login())
    db.close()
    window = open_viewer(None, home, user, runner, uids["current"])
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.panes[0].viewport.current() is not None, timeout=15000)
    qtbot.waitUntil(lambda: window.priors.button.isEnabled(), timeout=15000)
    yield window
    runner.shutdown()


def nearest(positions, target) -> int:
    return int(np.argmin(np.abs(np.asarray(positions) - target)))


def choose(qtbot, window, row: int):
    """Choose the menu's `row`-th prior; returns the right viewport once it
    shows its series in step with the left one."""
    window.priors.menu.actions()[row].trigger()
    qtbot.waitUntil(lambda: len(window.panes) == 2 and window.priors.sync is not None
                    and window.panes[1].viewport.current() is not None, timeout=15000)
    return window.panes[1].viewport


def scroll_to(qtbot, left, right, index: int, expected: int) -> None:
    """Move the left viewport to `index`; wait until the right one paints `expected`."""
    if right.state.index == expected and right.current() is not None:
        left.set_index(index)
    else:
        with qtbot.waitSignal(right.shown, check_params_cb=lambda i: i == expected,
                              timeout=15000):
            left.set_index(index)
    assert left.state.index == index and right.state.index == expected


def corner(viewport, where: str) -> str:
    from ui.viewer.corner_text import corner_lines

    return "\n".join(corner_lines(viewport, viewport.current())[where])


def test_prior_button_offers_the_earlier_comparable_studies(viewer, prior_home):
    _, uids, _ = prior_home
    labels = [a.text() for a in viewer.priors.menu.actions()]
    assert len(labels) == 2, labels  # the MR study is another modality: not offered
    assert labels[0].startswith("2023-01-10") and "Planning CT 6mm" in labels[0]
    assert labels[1].startswith("2021-03-02") and "RT Planning CT 3mm" in labels[1]
    # the recent study's axial series, not its sagittal one of the very same name
    assert [p.series_instance_uid for p in viewer.priors.priors] == [uids["same"], uids["own"]]


def test_choosing_a_prior_shows_both_scrolled_by_slice_position(qtbot, viewer, prior_home):
    _, uids, zs = prior_home
    right = choose(qtbot, viewer, 0)
    left = viewer.panes[0].viewport
    assert viewer.layout_name == "1x2"
    assert viewer.panes[0].series_uid == uids["current"]
    assert viewer.panes[1].series_uid == uids["same"]
    assert "2023-01-10" in corner(right, "top-right") and "2024-04-15" in corner(left, "top-right")
    assert right.count == 15
    # one frame of reference: the same place in the patient, whatever the numbers
    for index in (0, 7, 12, 29, 3):
        scroll_to(qtbot, left, right, index, nearest(zs["same"], zs["current"][index]))
    assert right.state.index != left.state.index  # not the same image number
    # scrolling the prior moves the current series the same way
    with qtbot.waitSignal(left.shown, timeout=15000) as seen:
        right.set_index(10)
    assert seen.args == [nearest(zs["current"], zs["same"][10])]


def test_sync_off_scrolls_alone_and_on_again_keeps_the_pair(qtbot, viewer, prior_home):
    _, uids, zs = prior_home
    right = choose(qtbot, viewer, 1)
    left = viewer.panes[0].viewport
    assert viewer.panes[1].series_uid == uids["own"]
    # a frame of its own: the stacks are matched from their starts, not by coordinates
    cur, own = zs["current"], zs["own"]
    for index in (5, 20):
        expected = nearest(np.asarray(own) - min(own), cur[index] - min(cur))
        scroll_to(qtbot, left, right, index, expected)
        assert abs(own[expected] - cur[index] - SHIFT_OWN_FRAME) < 1e-6

    viewer.priors.sync_action.setChecked(False)
    with qtbot.waitSignal(right.shown, check_params_cb=lambda i: i == 24, timeout=15000):
        right.set_index(24)
    assert left.state.index == 20  # the current series stays where it was
    with qtbot.waitSignal(left.shown, check_params_cb=lambda i: i == 22, timeout=15000):
        left.set_index(22)
    assert right.state.index == 24

    viewer.priors.sync_action.setChecked(True)  # 22 beside 24: that pair is the match now
    assert right.state.index == 24
    offset = own[24] - cur[22]
    for index in (23, 10):
        scroll_to(qtbot, left, right, index, nearest(own, cur[index] + offset))


def test_keys_scroll_the_pair_and_a_single_layout_drops_it(qtbot, viewer, prior_home):
    _, _, zs = prior_home
    right = choose(qtbot, viewer, 0)
    left = viewer.panes[0].viewport
    left.setFocus()
    with qtbot.waitSignal(right.shown, check_params_cb=lambda i: i == nearest(
            zs["same"], zs["current"][29]), timeout=15000):
        qtbot.keyClick(left, Qt.Key.Key_End)
    viewer.set_layout("1x1")
    qtbot.waitUntil(lambda: viewer.priors.sync is None, timeout=15000)
    assert not viewer.priors.sync_action.isEnabled()
    qtbot.keyClick(left, Qt.Key.Key_Home)  # alone again, nothing follows
    assert left.state.index == 0
