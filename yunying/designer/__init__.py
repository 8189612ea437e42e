"""Designer layer: admin-facing editing of metadata (forms, workflows, overlays).

Empty until the designer issue; it sits on top of ``runtime``."""
