"""The built-in CTP10: a real TCP SCPI server with lab-like physics and injectable faults.

Parts: ``SimulatedCTP10`` (state, command groups, dispatch; no sockets), ``SimulatorServer``
(TCP, CR LF framing, one thread per client), ``FaultControl`` (``server.faults``),
``SimulatorOptions`` (every "unsure" reply variant) and the ``ctp10-sim`` CLI
(``python -m ctp10_gui.simulator``), which prints one line, the VISA address.

What the model does (times are divided by ``speedup``):

- sweep (``:INIT``): Σ overlap(sweep range, TLS range)/speed over the active lasers, plus the
  stabilization time; scanning bit 4 while it runs (after ``scan_bit_delay_s`` real seconds in
  the late-bit variant). Traces of the last finished scan: 1 TF (through port on channel 1 with
  microring dips of 5–25 dB, FSR 2.5–4.5 nm; drop port peaks on channel 2; flat monitors on
  3 and 4), 11 raw live = TF + reference level (dBm), 12 raw reference, 13 quick reference.
  Points = span/sampling + 1 (940 001 for 94 nm at 0.1 pm). Before the first scan: 0 points.
  Y as dB or linear (``Y``, ``MW``, ``W``), X in metres or hertz (``M``, ``HZ``), binary
  blocks without a trailer (``block_trailer`` adds CR LF) or ASCII; ``…:TYPE<t>:SAVE`` keeps
  a trace in memory (-200 before the first scan); types other than 1, 11–13 answer -114.
- referencing (``:REF:SENS<m>:CHAN<c>:INIT``): a scan with bits 4 + 64; then ``RES?`` replies
  ``1,0,YYYYMMDD,HHMMSS`` (a TF reference, type 0; local time at the end), ``0`` before.
- lasers: positions 1 (T100S-HP, 1502–1627 nm, 5–15, 17, 18, 20, 22, 25, 29, 33, 40, 50,
  67, 100 nm/s) and 2 (T200S, 1262.5–1355 nm, 10/20/50/100/200 nm/s); one laser serves one
  TLS slot at a time (-221 otherwise); ``POW:STAT ON`` reads 0 for ``rlaser_switch_s``.
  Empty positions 3–10 answer ``IDN?`` with ``NONE``, refuse settings with -241 and answer
  other queries per ``empty_laser`` (stored values, silence, or -241).
- every wavelength setting takes ``PM``, ``NM``, ``UM``, ``M``, ``HZ``, ``GHZ``, ``THZ``
  (λ = c/f); replies are metres. ``*STB?`` (4 = error waiting), ``*OPT?`` (one field per
  module slot 1–20, ``0`` when empty), ``FUNCtion:TRIGger`` 0–8 per detector.
- live power: channels 1 and 2 follow a Gaussian fiber coupling in a 2-D offset (µm) that
  drifts (Ornstein–Uhlenbeck, seeded); channels 3 and 4 are constant; Gaussian noise; a tiny
  unique increment per reply; floor −80 dBm and saturation +10 dBm replied per ``under_range``.
- errors: -102 syntax, -104 data type, -108 parameter not allowed, -109 missing parameter,
  -113 undefined header (also a compound message when ``compound=False``), -114 header suffix
  out of range, -131 invalid unit suffix, -200 execution error (SAVE before a scan), -213 init
  ignored (already scanning), -221 settings conflict (TLS without a laser, a laser on two TLS
  slots), -222 data out of range, -224 illegal parameter value, -241 hardware missing
  (module/laser not installed), -350 queue overflow.

SCPI extensions to drive the simulator remotely (same parsing rules; all are set commands
unless marked ``?``; they are not part of the CTP10):

=====================================  ==========================================================
``SIMulate:FAULt:PAUSe <s>``           stop answering and accepting for s seconds, sockets open
``SIMulate:FAULt:LATE <s>`` / ``?``    delay every reply by s seconds (0 = off), order kept
``SIMulate:FAULt:GARBage [<n>]``       next n replies are ``b"\\xff#@!x" CR LF`` (default 1)
``SIMulate:FAULt:TRUNcate [<n>[,<c>]]``  next n replies: first half, no terminator; c=1 then FIN
``SIMulate:FAULt:DROP``                close every client gracefully (FIN), this one included
``SIMulate:FAULt:RST`` (``:RESet``)    abort every client (RST), this one included
``SIMulate:FAULt:REFuse <s>``          stop listening for s seconds (connects are refused)
``SIMulate:FAULt:CHANnel <m>,<c>,<0|1>``  detector (m, c) replies ``x#@!`` instead of a number
``SIMulate:FAULt:CLEar``               remove every fault
``SIMulate:COUPling:OFFSet <x>,<y>``   move the fiber to (x, y) µm; ``?`` replies ``x,y`` (µm)
``SIMulate:DRIFt <0|1>`` / ``?``       slow fiber drift off/on
``SIMulate:SERial <serial>`` / ``?``   change the *IDN? serial (a different instrument)
``SIMulate:LEVel <m>,<c>,<dBm>``       aligned power of a detector; ``SIM:LEV? <m>,<c>`` reads it
``SIMulate:NOISe <dB>`` / ``?``        live power noise, dB rms (0–1)
``SIMulate:SPEedup <x>`` / ``?``       divide instrument durations by x
=====================================  ==========================================================
"""

from __future__ import annotations

from ctp10_gui.simulator.detector_commands import GARBLED_VALUE
from ctp10_gui.simulator.facts import STATUS_ABORTING, STATUS_REFERENCING, STATUS_SCANNING
from ctp10_gui.simulator.faults import GARBAGE_REPLY, FaultControl
from ctp10_gui.simulator.instrument import SimulatedCTP10
from ctp10_gui.simulator.options import SimulatorOptions
from ctp10_gui.simulator.server import SimulatorServer
from ctp10_gui.simulator.state import SweepRecord

__all__ = [
    "GARBAGE_REPLY",
    "GARBLED_VALUE",
    "STATUS_ABORTING",
    "STATUS_REFERENCING",
    "STATUS_SCANNING",
    "FaultControl",
    "SimulatedCTP10",
    "SimulatorOptions",
    "SimulatorServer",
    "SweepRecord",
]
