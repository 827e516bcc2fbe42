"""Live optical power, lasers, sweeps and traces for the EXFO CTP10."""

__version__ = "0.1.0"
