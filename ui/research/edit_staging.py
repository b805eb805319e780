"""Staging from the Edit dialog: what the ticks would stage (the ticked
series and, with "With references", what they need; a warning when a plan
that is not APPROVED, or a dose of one, is among them), and staging it into
the active project as a writer job with progress and Cancel, asking first
about such a plan.

A mixin of :class:`ui.research.edit_dialog.EditDialog`. The job is a
``runner.write`` that announces ``cache_changed(PROJECTS, study)``
(ui/cache_events.py): the dialog's staged state and the research window's
patient table read again from that broadcast. A cancelled or failed staging
keeps what was staged before it stopped, so it is announced too.
"""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox

from app.research import staging
from ui.cache_events import PROJECTS, CacheChange, announce
from ui.jobs import UNKNOWN
from ui.research import data


class StagingActions:
    """The tick summary, Stage, Cancel and their outcome (a mixin: the dialog
    provides home, user, project, study, runner, the ticks and the widgets)."""

    # -- what the ticks stage -----------------------------------------------------------------

    def _references_toggled(self, on: bool) -> None:
        self.rt_model.set_references(on)
        self._update_summary()

    def ticked(self) -> list[str]:
        """The ticked series, in the study's series order."""
        return [s["series_instance_uid"] for s in self.table.model.all_series() if s["series_instance_uid"] in self.ticks]

    def _update_summary(self) -> None:
        ticked = self.ticked()
        text = f"{len(ticked)} series ticked" if ticked else "Tick the series to stage"
        if ticked and self.references.isChecked():
            added = data.needed(self.rt_model.roots, set(ticked))
            text += f"; With references adds {len(added)}" if added else "; nothing to add"
        risky = data.unapproved(self.rt_model.roots, self._to_stage(ticked))
        if risky:
            plans = sorted({f"{plan.label} ({plan.approval or 'no approval status'})" for _, plan in risky})
            text += "  \u00b7  <b style='color:#d08a4a'>\u26a0 includes a plan not approved: " \
                    + ", ".join(plans) + "</b>"
        self.summary.setText(text)
        self.stage_button.setEnabled(bool(ticked) and self.job is None)

    def _to_stage(self, ticked: list[str]) -> set[str]:
        uids = set(ticked)
        if self.references.isChecked():
            uids |= data.needed(self.rt_model.roots, uids)
        return uids

    # -- staging ----------------------------------------------------------------------------

    def stage(self, confirmed: bool = False) -> None:
        """Stage the ticked series; asks first when a plan that is not approved
        (or a dose of one) is among them."""
        uids = self.ticked()
        if not uids or self.job is not None:
            return
        risky = data.unapproved(self.rt_model.roots, self._to_stage(uids))
        if risky and not confirmed:
            self._confirm_unapproved(risky)
            return
        self._start(uids, self.references.isChecked())

    def _confirm_unapproved(self, risky: list) -> None:
        lines = "\n".join(f"\u2022 {node.modality} {node.label}: plan \u201c{plan.label}\u201d is "
                          f"{plan.approval or 'without approval status'}" for node, plan in risky)
        box = QMessageBox(QMessageBox.Icon.Warning, "Stage a plan that is not approved?",
                          "Some series to stage are, or belong to, a plan that is not approved "
                          f"for treatment:\n\n{lines}", QMessageBox.StandardButton.NoButton, self)
        box.setObjectName("unapprovedConfirm")
        go = box.addButton("Stage anyway", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.buttonClicked.connect(lambda button: button is go and self.stage(confirmed=True))
        box.finished.connect(box.deleteLater)
        self.confirm_box = box
        box.open()

    def _start(self, uids: list[str], references: bool) -> None:
        home, user, project = self.home, self.user, self.project
        self.job = self.runner.write(
            home, f"Stage {len(uids)} series into {project}",
            lambda db, progress, cancel: staging.stage(home, db, user, project, uids, references, progress,
                                                       cancel),
            changed=self.staging_change(), on_success=self._succeeded, on_failure=self._failed,
            on_cancel=self._cancelled,
            summarize=lambda r: f"{len(r.staged)} staged, {len(r.skipped)} already staged, "
                                f"{len(r.failed)} failed")
        self.job.progress.connect(self._progress)
        self.progress.setValue(0)
        self.progress.show()
        self.message.setText("Waiting for other writers\u2026")
        self.cancel_button.setEnabled(True)
        self.stage_button.setEnabled(False)
        self.verdict.setText("Staging\u2026")
        self._set_level("running")

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.message.setText("Cancelling\u2026")

    def is_staging(self) -> bool:
        return self.job is not None

    def _progress(self, fraction: float, message: str) -> None:
        if fraction == UNKNOWN:
            self.progress.setRange(0, 0)
        else:
            self.progress.setRange(0, 100)
            self.progress.setValue(int(fraction * 100))
        self.message.setText(message)

    def _succeeded(self, result) -> None:
        self.result_text = (f"{len(result.staged)} series staged, {len(result.skipped)} already "
                            f"staged, {len(result.failed)} failed")
        if result.failed:
            self.result_text += f": {result.failed[0]['reason']}"
        self._ended("succeeded", self.result_text)

    def _failed(self, message: str) -> None:
        self._ended("failed", f"Staging failed: {message}")

    def _cancelled(self) -> None:
        self._ended("cancelled", "Staging cancelled; what was staged before is kept")

    def staging_change(self) -> CacheChange:
        return CacheChange.of(PROJECTS, study_uids=[self.study["study_instance_uid"]])

    def _ended(self, outcome: str, text: str) -> None:
        self.job = None
        self.progress.hide()
        self.cancel_button.setEnabled(False)
        self.message.setText(text)
        self._update_summary()
        if outcome != "succeeded":  # what was staged before the stop is kept (a success announced it)
            announce(self.home, self.staging_change())
        self.staging_finished.emit(outcome)
