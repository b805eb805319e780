"""Measurements as DICOM: lengths, angles and regions made on images of the
cache and kept as TID 1500 measurement reports (Comprehensive SR) in the
image's study, instances of the cache like any other.

- :mod:`app.measurements.measure`: the arithmetic (mm from the pixel
  spacing, angles, region statistics in modality units); no files.
- :mod:`app.measurements.image`: image N of a series, its header and values.
- :mod:`app.measurements.sr` / :mod:`app.measurements.sr_read`: writing a
  report and reading its measurements back; :mod:`app.measurements.codes`
  the concepts both use.
- :mod:`app.measurements.record`: measuring and keeping the report (the
  import's write path, audited).
- :mod:`app.measurements.index`: a study's reports and measurements, and
  whether it is an Advanced Reporting study.
- :mod:`app.measurements.follow`: a report split when some of its images
  leave the study (the Synapse rule; app.changes.reports applies it).

Qt-free; the viewer draws and edits on top of these.
"""
