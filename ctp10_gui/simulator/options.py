"""Options of the simulated CTP10: every "unsure" variant of the reference is one field."""

from __future__ import annotations

from dataclasses import dataclass, field

UNIT_REPLIES = ("number", "text")
POWER_REPLIES = ("bare", "with_unit")
UNDER_RANGE_FORMS = ("sentinel", "keysight", "inf")
EMPTY_LASER_REPLIES = ("values", "silent", "error")


@dataclass(frozen=True)
class SimulatorOptions:
    """Configure one simulated CTP10 (reply variants, timing, physics, connection policy).

    modules: detector module slots present (1–20); channels_per_module: 1–6 detectors each.
    unit_reply: UNIT:Y?/UNIT:X? answered "number" ('0'/'1') or "text" ('DBM'/'MW', 'WAV'/'FREQ').
    power_reply: POW? answered "bare" ('-3.1E+000') or "with_unit" ('-3.1E+000,DBM').
    compound: accept 'A?;B?' (answered 'a;b'); False queues -113 and sends no reply.
    block_trailer: send CR LF after a binary block (the evidence leans to no trailer: default).
    max_clients: TCP clients served at once; a further client is accepted then closed (FIN).
    speedup: divides every instrument duration (sweep, referencing, laser switch-on), ≥ 1e-3.
    under_range: reply below the −80 dBm floor: "sentinel" (-9.91E37), "keysight" (-200 dBm),
        "inf" (-INF); saturation above +10 dBm replies +9.91E37 (INF for "inf").
    empty_laser: how queries of an empty laser position (3–10 by default) other than IDN?
        (always "NONE") are answered: "values" (stored setpoints), "silent" (no reply),
        "error" (-241, no reply). Settings of an empty position are refused with -241.
    late_reply_s: initial delay of every reply in s (fault; 0 = off).
    scan_bit_delay_s: the scanning bit appears only this many real seconds after :INIT (0–5 s).
    noise_db: Gaussian noise of live power, dB rms (0–1).
    unique_power: add a tiny per-reply increment (1 µdB steps, wraps at 1000) so every live
        power reply differs and a desynchronised client is detectable.
    drift: fiber offset drifts (Ornstein–Uhlenbeck walk around the set point).
    drift_rms_um / drift_tau_s: size (µm rms) and correlation time (s) of that drift.
    offset_um: initial fiber offset (x, y) in µm relative to the waveguide.
    mode_radius_um: 1/e² mode-field radius of the Gaussian coupling, µm (> 0).
    rlaser_switch_s: time a reference laser needs to switch on (before speedup), s.
    abort_s: how long the aborting bit (16) stays set after :ABORt (before speedup), s.
    busy_grace_s: when full, wait this long for a leaving client to free its slot (s).
    """

    modules: tuple[int, ...] = (1, 4)
    channels_per_module: int = 4
    unit_reply: str = "number"
    power_reply: str = "bare"
    compound: bool = True
    block_trailer: bool = False
    max_clients: int = 1
    speedup: float = 1.0
    under_range: str = "sentinel"
    empty_laser: str = "values"
    serial: str = "CTP10-SIM-0001"
    firmware: str = "1.6.2.0"
    seed: int = 0
    late_reply_s: float = 0.0
    scan_bit_delay_s: float = 0.0
    noise_db: float = 0.02
    unique_power: bool = True
    drift: bool = True
    drift_rms_um: float = 0.4
    drift_tau_s: float = 15.0
    offset_um: tuple[float, float] = (0.4, -0.3)
    mode_radius_um: float = 2.5
    rlaser_switch_s: float = 2.0
    abort_s: float = 0.2
    busy_grace_s: float = 0.25
    channel_levels_dbm: tuple[float, ...] = field(default=(-3.0, -8.0, -5.0, -4.0, -6.0, -6.0))

    def __post_init__(self) -> None:
        """Reject inconsistent options with a sentence naming the field and its valid values."""
        checks = [
            (self.unit_reply in UNIT_REPLIES, f"unit_reply must be one of {UNIT_REPLIES}"),
            (self.power_reply in POWER_REPLIES, f"power_reply must be one of {POWER_REPLIES}"),
            (
                self.under_range in UNDER_RANGE_FORMS,
                f"under_range must be one of {UNDER_RANGE_FORMS}",
            ),
            (
                self.empty_laser in EMPTY_LASER_REPLIES,
                f"empty_laser must be one of {EMPTY_LASER_REPLIES}",
            ),
            (
                len(self.modules) > 0 and all(1 <= m <= 20 for m in self.modules),
                "modules must be slots 1–20",
            ),
            (1 <= self.channels_per_module <= 6, "channels_per_module must be 1–6"),
            (self.max_clients >= 1, "max_clients must be ≥ 1"),
            (self.speedup >= 1e-3, "speedup must be ≥ 0.001"),
            (self.late_reply_s >= 0, "late_reply_s must be ≥ 0"),
            (0 <= self.scan_bit_delay_s <= 5, "scan_bit_delay_s must be 0–5 s"),
            (0 <= self.noise_db <= 1, "noise_db must be 0–1 dB"),
            (self.mode_radius_um > 0, "mode_radius_um must be > 0"),
            (self.drift_tau_s > 0 and self.drift_rms_um >= 0, "drift_tau_s > 0, drift_rms_um ≥ 0"),
            (len(self.channel_levels_dbm) >= self.channels_per_module, "one level per channel"),
            ("," not in self.serial and self.serial.strip() == self.serial and self.serial != "",
             "serial must be non-empty, without commas or surrounding blanks"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
