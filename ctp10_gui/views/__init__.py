"""Widgets; each takes its models and the link controller in its constructor."""
