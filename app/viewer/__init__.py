"""The viewer's core, without Qt: drawing a frame as the standard says
(display), a series in display order (series), window presets (presets) and
`studydesk render` (render). The window itself lives in ui/viewer/."""
