"""Icon, style sheets and the desktop-entry template."""
