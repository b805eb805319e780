"""Burning from the Burn dialog: app.media.burn as a job through ui/jobs.py
(it reads the cache and the store on connections of its own), its progress
and Cancel, and at the end the verification result of every disc. When the
selection needs another blank disc, the job asks through the dialog's
:class:`ui.export.disc_prompt.DiscPrompt`. A mixin of
:class:`ui.export.burn_dialog.BurnDialog`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from app.media import MEDIA, BurnOptions, BurnResult, burn
from ui.jobs import Job


class BurnRun:
    """Burn, Cancel and the outcome (a mixin of the Burn dialog)."""

    def options(self) -> BurnOptions:
        return BurnOptions(label=self.label.text().strip(), web=self.web.isChecked(),
                           anonymise=self.anonymise.isChecked(),
                           keep_compressed=self.keep_compressed.isChecked(),
                           medium=MEDIA[self.medium.currentData()])

    def start(self) -> Optional[Job]:
        if self.job is not None or not self.studies:
            return None
        home, user, uids, options = self.home, self.user, list(self.uids), self.options()
        device = self.device()
        iso_path = None if device else Path(self.iso_path.text().strip() or self._default_iso())
        burner = self._burner() if device else None
        prompt = self.prompt

        def job(progress, cancel):
            return burn(home, user, uids, iso_path=iso_path, device=device, options=options,
                        burner=burner, next_disc=lambda n, total: prompt.ask(n, total, cancel),
                        progress=progress, cancel=cancel)

        self._settings_enabled(False)
        self.status.setText("Burning...")
        self.job = self.runner.start(f"Burn {len(uids)} studies", job, kind="read",
                                     on_success=self._done, on_failure=self._show_failure,
                                     on_cancel=self._cancelled)
        self.job.progress.connect(self._progress)
        self.job.finished.connect(self._finished)
        return self.job

    def _progress(self, fraction: float, message: str) -> None:
        if fraction < 0:
            self.bar.setRange(0, 0)
        else:
            self.bar.setRange(0, 1000)
            self.bar.setValue(int(fraction * 1000))
        self.status.setText(message)

    def _done(self, result: BurnResult) -> None:
        self.result = result
        self.bar.setRange(0, 1000)
        self.bar.setValue(1000)
        lines = []
        for disc in result.discs:
            check = disc.verification
            state = check.summary() if check else "written (not read back)"
            profile = disc.profile or "no general-purpose profile (compressed images kept)"
            lines.append(f"Disc {disc.number} of {disc.total} ({disc.target}): {state}; {profile}")
        if len(result.discs) < result.planned:
            lines.append(f"Stopped after {len(result.discs)} of {result.planned} discs.")
        self.status.setProperty("verified", result.verified)
        self.status.setText(("All discs verified against their manifests.\n" if result.verified
                             else "Verification FAILED: do not hand out these discs.\n")
                            + "\n".join(lines))
        self.burned.emit(result)

    def _show_failure(self, message: str) -> None:
        self.status.setProperty("verified", False)
        self.status.setText(f"Burning failed: {message}")

    def _cancelled(self) -> None:
        self.status.setText("Cancelled.")

    def _settings_enabled(self, enabled: bool) -> None:
        for widget in (self.medium, self.target, self.label, self.web, self.keep_compressed,
                       self.burn_button):
            widget.setEnabled(enabled)
        self.anonymise.setEnabled(enabled and self.can_anonymise)
        if enabled:
            self._update()
        else:
            self.iso_path.setEnabled(False)
            self.browse.setEnabled(False)

    def _finished(self) -> None:
        self.job = None
        self.bar.setRange(0, 1000)
        self.cancel_button.setText("Close")
        if self.result is None or not self.result.verified:
            self._settings_enabled(True)  # failed or cancelled: change something and try again

    def _cancel_or_close(self) -> None:
        self.reject()

    def reject(self) -> None:
        """Cancel (and Escape) stop a running burn first; then they close."""
        if self.job is not None:
            self.job.cancel()
            self.prompt.answer(False)
            self.status.setText("Cancelling...")
            return
        super().reject()

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if self.job is not None:
            self.job.cancel()
            self.prompt.answer(False)
        super().closeEvent(event)
