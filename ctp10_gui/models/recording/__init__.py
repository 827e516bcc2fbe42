"""Crash-safe CSV recording of live power, the in-memory flight recorder, and crash recovery.

File format (one session = one sidecar JSON + one or more CSV parts):

``<name>.json`` describes the session (instrument, channels, unit, the sample label and the
instrument's state: detectors, sweep, lasers, references); ``<name>_partNNN.csv`` hold the
rows. ``<name>`` is ``2026-12-04_153012_<serial>_M4_CH1-4[_<label>]`` (``naming``). Each part
starts with one comment-free header line::

    iso_time,unix_time,ch1_dBm,ch1_status,ch2_dBm,ch2_status,event

then one row per snapshot (ISO-8601 local time with offset and milliseconds, unix time in s with
µs, per channel the value in the unit named in the header — empty when there is none — and the
status ok/under/over/error) and one row per link event (empty values, the event text in the
last column). A new part starts on rotation (size/time) and when the module or channel set
changes, each with its own header. Every row ends in a newline and rows never contain a
newline, so counting newlines counts rows and a crash leaves at most one torn last line.

Modules: ``format`` (rows, header, metadata), ``naming`` (session names), ``files`` (safe file
operations), ``events`` (event kinds beyond the link's),
``session_writer`` (one session's files), ``live_recorder`` (the writer thread),
``flight_recorder`` (the in-memory ring), ``recovery`` (closing crashed sessions).
Nothing here imports Qt: the writer is a plain ``threading.Thread`` consuming a queue.
"""
