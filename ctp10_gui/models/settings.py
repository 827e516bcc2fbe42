"""Typed app settings saved as JSON in the per-user config folder, tolerant of a damaged file.

A corrupt or hand-edited settings file must never stop the app from starting: bad fields fall
back to their defaults, good ones are kept, the damaged file is kept aside for support, and
SettingsStore.load_problem holds one sentence for the UI. Plain Python: no Qt.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any

import platformdirs

from ctp10_gui.hardware.scpi import DETECTOR_CHANNELS, DETECTOR_MODULES
from ctp10_gui.models.connection import BackoffPolicy, stale_after_s

log = logging.getLogger(__name__)

APP_NAME = "ctp10-gui"
SETTINGS_FILE = "settings.json"
SCHEMA_VERSION = 1
MAX_RECENT_ADDRESSES = 10
WINDOWS_S = (10.0, 60.0, 600.0, 3600.0)  # strip-chart windows: 10 s, 1 min, 10 min, 1 h
# A settings file is a few kB; a larger one is damaged (or not ours) and is not read whole.
MAX_SETTINGS_BYTES = 1024 * 1024
MAX_LABEL_CHARS = 200  # a sample label; file names keep its first 40 safe characters


def default_backoff() -> dict[str, float | int]:
    """Return the reconnection back-off defaults: BackoffPolicy's own, as a table."""
    return dict(asdict(BackoffPolicy()))


@dataclass
class AppSettings:
    """Everything the app restores at start (units: s, dBm, dB; ranges checked on load/save)."""

    address: str | None = None  # VISA address or host[:port]; None: the built-in simulator
    recent_addresses: list[str] = field(default_factory=list)  # newest first, ≤ 10
    use_simulator: bool = True  # start on the simulator until an instrument is configured
    module: int = 4  # 1–20
    channels: list[int] = field(default_factory=lambda: [1, 2, 3, 4])  # subset of 1–6
    poll_interval_s: float = 0.05  # 0.001–10 s
    live: bool = True
    window_s: float = 60.0  # one of 10, 60, 600, 3600 s
    power_unit: str = "dBm"  # "dBm" or "mW"
    theme: str = "dark"  # "dark" or "light"
    min_span_db: float = 1.0  # smallest autoscaled y span, 0.01–100 dB
    geometry_b64: str = ""  # QMainWindow.saveGeometry(), base64
    window_state_b64: str = ""  # QMainWindow.saveState(), base64
    references: dict[str, float] = field(default_factory=dict)  # readout.reference_key → dBm
    stale_after_s: float | None = None  # None: max(3 × poll interval, 1 s); else 0.1–3600 s
    reply_deadline_s: float = 5.0  # 0.1–3600 s and ≥ the stale threshold: then reconnect
    backoff: dict[str, float | int] = field(default_factory=default_backoff)
    record_folder: str | None = None  # where recordings go; None: asked at the first Record
    export_dir: str | None = None  # last folder a chart or trace image was exported to
    flight_recorder_minutes: float = 60.0  # 0 (off) – 1440 min
    big_numbers_scale: float = 1.0  # font scale of the fullscreen big-numbers mode, 0.5–4
    focus_mode: bool = False  # alignment mode: the focused channels fill the Live tab
    focus_channels: list[str] = field(default_factory=lambda: ["CH1"])  # 1–2 channel keys
    peak_average_s: float = 0.05  # peak hold of a moving average over 0–10 s
    settle_window_s: float = 2.0  # settled light: spread over 0.1–600 s …
    settle_threshold_db: float = 0.02  # … below 0.001–10 dB
    tone_on: bool = False  # alignment tone
    tone_volume: float = 0.5  # 0–1
    tone_span_dbm: list[float] = field(default_factory=list)  # [low, high] dBm; []: auto-fit
    channel_labels: dict[str, str] = field(default_factory=dict)  # "CH3" → "input GC"
    derived_channels: list[dict[str, str]] = field(default_factory=list)  # name, expression

    # -- files: the folders last used and the sample label, offered again next time
    recording_label: str = ""  # sample label of the last recording, ≤ 200 characters
    trace_export_dir: str | None = None  # last folder traces were exported to
    trace_open_dir: str | None = None  # last folder traces were opened from
    save_last_dir: str | None = None  # last folder "Save last N minutes" wrote to
    # -- stream server (issue 14)
    stream_port: int = 8002  # port "Serve live stream" listens on, 0–65535 (0: any free)
    stream_origins: list[str] = field(default_factory=list)  # web pages allowed besides local
    stream_max_clients: int = 32  # 1–256

    def remember_address(self, address: str) -> None:
        """Make address the current one and first of the recent addresses (≤ 10, no repeats)."""
        address = address.strip()
        self.address = address
        self.use_simulator = False
        rest = [a for a in self.recent_addresses if a != address]
        self.recent_addresses = [address, *rest][:MAX_RECENT_ADDRESSES]


# --------------------------------------------------------------------------- validation


class _Bad(ValueError):
    """A settings value that is of the wrong type or out of range."""


def _number(value: Any, lo: float, hi: float) -> float:
    # bool is an int in Python but never a number in a settings file.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Bad(f"{value!r} is not a number")
    v = float(value)
    if not (math.isfinite(v) and lo <= v <= hi):
        raise _Bad(f"{value!r} is outside {lo:g}–{hi:g}")
    return v


def _integer(value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Bad(f"{value!r} is not an integer")
    if not lo <= value <= hi:
        raise _Bad(f"{value!r} is outside {lo}–{hi}")
    return int(value)


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Bad(f"{value!r} is not true/false")
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise _Bad(f"{value!r} is not text")
    return value


def _optional_text(value: Any) -> str | None:
    if value is None:
        return None
    text = _text(value).strip()
    return text or None


def _short_text(value: Any, max_chars: int) -> str:
    text = _text(value).strip()
    if len(text) > max_chars:
        raise _Bad(f"{len(text)} characters, more than {max_chars}")
    return text


def _choice(value: Any, allowed: tuple[Any, ...]) -> Any:
    for a in allowed:
        # 60 and 60.0 are the same window; "dBm" must match exactly.
        if value == a and not isinstance(value, bool) and type(value) in (type(a), int, float):
            return a
    raise _Bad(f"{value!r} is not one of {', '.join(map(str, allowed))}")


def _channels(value: Any) -> list[int]:
    if not isinstance(value, list) or not value:
        raise _Bad(f"{value!r} is not a non-empty list of channels")
    chans = sorted({_integer(v, *DETECTOR_CHANNELS) for v in value})
    return chans


def _recent(value: Any) -> tuple[list[str], bool]:
    if not isinstance(value, list):
        raise _Bad(f"{value!r} is not a list of addresses")
    good = [v.strip() for v in value if isinstance(v, str) and v.strip()]
    unique = list(dict.fromkeys(good))[:MAX_RECENT_ADDRESSES]
    return unique, len(good) != len(value)


def _references(value: Any) -> tuple[dict[str, float], bool]:
    if not isinstance(value, dict):
        raise _Bad(f"{value!r} is not a table of references")
    good: dict[str, float] = {}
    for key, v in value.items():
        try:
            good[_text(key)] = _number(v, -1000.0, 1000.0)
        except _Bad:
            continue
    return good, len(good) != len(value)


_BACKOFF_RULES: dict[str, Callable[[Any], float | int]] = {
    "initial_s": lambda v: _number(v, 0.1, 60.0),
    "factor": lambda v: _number(v, 1.0, 10.0),
    "cap_s": lambda v: _number(v, 1.0, 3600.0),
    "jitter": lambda v: _number(v, 0.0, 0.5),
    "max_attempts": lambda v: _integer(v, 1, 1000),
    "slow_retry_s": lambda v: _number(v, 1.0, 3600.0),
}


def _backoff(value: Any) -> tuple[dict[str, float | int], list[str]]:
    if not isinstance(value, dict):
        raise _Bad(f"{value!r} is not a table of back-off settings")
    out = default_backoff()
    bad: list[str] = []
    for key, rule in _BACKOFF_RULES.items():
        if key in value:
            try:
                out[key] = rule(value[key])
            except _Bad:
                bad.append(f"backoff.{key}")
    if out["slow_retry_s"] < out["cap_s"]:
        bad.append("backoff.slow_retry_s")
        out["slow_retry_s"] = max(default_backoff()["slow_retry_s"], out["cap_s"])
    if out["cap_s"] < out["initial_s"]:
        bad.append("backoff.cap_s")
        defaults = default_backoff()
        out["initial_s"], out["cap_s"] = defaults["initial_s"], defaults["cap_s"]
    return out, bad


_SIMPLE_RULES: dict[str, Callable[[Any], Any]] = {
    "address": _optional_text,
    "use_simulator": _boolean,
    "module": lambda v: _integer(v, *DETECTOR_MODULES),
    "channels": _channels,
    "poll_interval_s": lambda v: _number(v, 0.001, 10.0),
    "live": _boolean,
    "window_s": lambda v: _choice(v, WINDOWS_S),
    "power_unit": lambda v: _choice(v, ("dBm", "mW")),
    "theme": lambda v: _choice(v, ("dark", "light")),
    "min_span_db": lambda v: _number(v, 0.01, 100.0),
    "geometry_b64": _text,
    "window_state_b64": _text,
    "stale_after_s": lambda v: None if v is None else _number(v, 0.1, 3600.0),
    "reply_deadline_s": lambda v: _number(v, 0.1, 3600.0),
    "record_folder": _optional_text,
    "export_dir": _optional_text,
    "flight_recorder_minutes": lambda v: _number(v, 0.0, 1440.0),
    "big_numbers_scale": lambda v: _number(v, 0.5, 4.0),
    # -- files
    "recording_label": lambda v: _short_text(v, MAX_LABEL_CHARS),
    "trace_export_dir": _optional_text,
    "trace_open_dir": _optional_text,
    "save_last_dir": _optional_text,
}


def _apply(s: AppSettings, name: str, rule: Callable[[Any], Any], value: Any,
           bad: list[str]) -> None:
    """Set one field from its rule; any failure leaves the default and lists the field."""
    try:
        setattr(s, name, rule(value))
    except _Bad as e:
        log.warning("settings: %s reset to default: %s", name, e)
        bad.append(name)
    except Exception as e:  # a value no rule foresaw (e.g. nested too deep): that field only
        log.warning("settings: %s reset to default: %s: %s", name, type(e).__name__, e)
        bad.append(name)


def _listed(rule: Callable[[Any], tuple[Any, bool]], name: str,
            bad: list[str]) -> Callable[[Any], Any]:
    """Wrap a rule that drops bad entries: keep the good ones and list the field as bad."""

    def apply(value: Any) -> Any:
        good, dropped = rule(value)
        if dropped:
            log.warning("settings: invalid entries dropped from %s", name)
            bad.append(name)
        return good

    return apply


def _check_across_fields(s: AppSettings, bad: list[str]) -> None:
    """Reset fields that contradict each other (each alone is in range) and list them."""
    if s.stale_after_s is not None and s.stale_after_s < s.poll_interval_s:
        log.warning("settings: stale_after_s %g s is shorter than the poll interval %g s; "
                    "reset to automatic", s.stale_after_s, s.poll_interval_s)
        s.stale_after_s = None
        bad.append("stale_after_s")
    stale_s = stale_after_s(s.poll_interval_s, s.stale_after_s)
    if s.reply_deadline_s < stale_s:
        log.warning("settings: reply_deadline_s %g s is shorter than the stale threshold %g s; "
                    "raised to it", s.reply_deadline_s, stale_s)
        if s.reply_deadline_s != AppSettings.reply_deadline_s:
            bad.append("reply_deadline_s")  # the user's own value, not the default, contradicts
        s.reply_deadline_s = stale_s


# Alignment mode (issue 15): focus, peak averaging, settled light, tone, labels, derived.
def _focus_channels(value: Any) -> list[str]:
    if not isinstance(value, list) or not 1 <= len(value) <= 2:
        raise _Bad(f"{value!r} is not a list of one or two channels")
    return [_text(v) for v in value]


def _tone_span(value: Any) -> list[float]:
    if value == []:
        return []
    if not isinstance(value, list) or len(value) != 2:
        raise _Bad(f"{value!r} is not [low, high] dBm")
    lo, hi = _number(value[0], -200.0, 100.0), _number(value[1], -200.0, 100.0)
    if not hi > lo:
        raise _Bad(f"{value!r}: high must be above low")
    return [lo, hi]


def _labels(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise _Bad(f"{value!r} is not a table of channel names")
    return {_text(k): _text(v) for k, v in value.items()}


def _derived(value: Any) -> list[dict[str, str]]:
    if not isinstance(value, list):
        raise _Bad(f"{value!r} is not a list of derived channels")
    out = []
    for item in value:
        if not isinstance(item, dict) or set(item) != {"name", "expression"}:
            raise _Bad(f"{item!r} is not {{name, expression}}")
        out.append({"name": _text(item["name"]), "expression": _text(item["expression"])})
    return out


_SIMPLE_RULES.update({
    "focus_mode": _boolean,
    "focus_channels": _focus_channels,
    "peak_average_s": lambda v: _number(v, 0.0, 10.0),
    "settle_window_s": lambda v: _number(v, 0.1, 600.0),
    "settle_threshold_db": lambda v: _number(v, 0.001, 10.0),
    "tone_on": _boolean,
    "tone_volume": lambda v: _number(v, 0.0, 1.0),
    "tone_span_dbm": _tone_span,
    "channel_labels": _labels,
    "derived_channels": _derived,
})


# Stream server (issue 14): port, extra allowed web-page origins, client limit.
def _origins(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise _Bad(f"{value!r} is not a list of origins")
    origins = [_text(v).strip().rstrip("/") for v in value]
    for origin in origins:
        if not origin.startswith(("http://", "https://")):
            raise _Bad(f"{origin!r} is not an origin like http://host:port")
    return origins


_SIMPLE_RULES.update({
    "stream_port": lambda v: _integer(v, 0, 65535),
    "stream_origins": _origins,
    "stream_max_clients": lambda v: _integer(v, 1, 256),
})


def settings_from_dict(data: dict[str, Any]) -> tuple[AppSettings, list[str]]:
    """Build settings from parsed JSON: bad fields get defaults and are listed by name."""
    s = AppSettings()
    bad: list[str] = []
    known = {f.name for f in fields(AppSettings)}
    unknown = sorted(str(k) for k in set(data) - known - {"version"})
    if unknown:
        # A newer version may have written them: not an error, but worth a line in the log.
        log.info("settings: ignored unknown keys %s", ", ".join(unknown)[:500])
    for name, rule in _SIMPLE_RULES.items():
        if name in data:
            _apply(s, name, rule, data[name], bad)
    for name, listed in (("recent_addresses", _recent), ("references", _references)):
        if name in data:
            _apply(s, name, _listed(listed, name, bad), data[name], bad)
    if "backoff" in data:
        bad_keys: list[str] = []

        def backoff(value: Any) -> dict[str, float | int]:
            out, keys = _backoff(value)
            bad_keys.extend(keys)
            return out

        _apply(s, "backoff", backoff, data["backoff"], bad)
        bad.extend(bad_keys)
    _check_across_fields(s, bad)
    return s, list(dict.fromkeys(bad))


def settings_to_dict(s: AppSettings) -> dict[str, Any]:
    """Return the JSON-ready dict of settings, with the schema version."""
    return {"version": SCHEMA_VERSION, **asdict(s)}


# --------------------------------------------------------------------------- folders


def config_dir() -> Path:
    """Return the per-user config folder (not created)."""
    return platformdirs.user_config_path(APP_NAME, appauthor=False)


def log_dir() -> Path:
    """Return the per-user log folder, created if missing."""
    path = platformdirs.user_log_path(APP_NAME, appauthor=False)
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir() -> Path:
    """Return the per-user data folder (recordings, exports), created if missing."""
    path = platformdirs.user_data_path(APP_NAME, appauthor=False)
    path.mkdir(parents=True, exist_ok=True)
    return path


# --------------------------------------------------------------------------- store


def _sync_folder(folder: Path) -> None:
    """Make a rename in folder survive a power cut (POSIX); Windows cannot open folders."""
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError as e:
        log.warning("settings: cannot open %s to sync it: %s", folder, e)
        return
    try:
        os.fsync(fd)
    except OSError as e:  # some file systems refuse fsync on a folder: the file is still safe
        log.debug("settings: fsync of %s refused: %s", folder, e)
    finally:
        os.close(fd)


class SettingsStore:
    """Load and save AppSettings as JSON; load never raises, save is atomic."""

    def __init__(
        self, path: Path | None = None, *, now: Callable[[], datetime] = datetime.now
    ) -> None:
        """Use path (default: <user config folder>/settings.json); now names corrupt copies."""
        self.path = Path(path) if path is not None else config_dir() / SETTINGS_FILE
        self._now = now
        self.load_problem: str | None = None  # one sentence for the UI after load(), else None
        self.kept_copy: Path | None = None  # where the damaged file was kept, if it was
        self._saved_text: str | None = None  # the file's text as last read or written

    def load(self) -> AppSettings:
        """Return the saved settings; defaults (and load_problem) for a missing or bad file."""
        self.load_problem = None
        self.kept_copy = None
        self._saved_text = None
        try:
            with self.path.open("rb") as f:
                raw = f.read(MAX_SETTINGS_BYTES + 1)
        except FileNotFoundError:
            return AppSettings()  # first start: nothing to report
        except OSError as e:
            log.warning("settings: cannot read %s: %s", self.path, e)
            self.load_problem = (
                f"Settings file {self.path} could not be read ({e.strerror or e}); "
                "started with defaults."
            )
            return AppSettings()
        try:
            if len(raw) > MAX_SETTINGS_BYTES:
                raise ValueError(f"larger than {MAX_SETTINGS_BYTES // 1024} kB")
            # utf-8-sig: an editor on Windows may have put a byte-order mark in front.
            data = json.loads(raw.decode("utf-8-sig"))
            if not isinstance(data, dict):
                raise ValueError(f"top level is {type(data).__name__}, not an object")
        except (ValueError, RecursionError, MemoryError) as e:
            # JSONDecodeError and UnicodeDecodeError are ValueErrors; deep nesting recurses.
            log.warning("settings: %s is corrupt: %s: %s", self.path, type(e).__name__,
                        str(e)[:200])
            kept = self._keep_damaged()
            self.load_problem = "Settings file was corrupt; started with defaults. " + kept
            return AppSettings()
        settings, bad = settings_from_dict(data)
        if bad:
            kept = self._keep_damaged()
            self.load_problem = (
                f"Some settings were invalid and were reset to defaults ({', '.join(bad)}). " + kept
            )
        else:
            self._saved_text = self._text_of(settings)
        return settings

    def save(self, s: AppSettings) -> None:
        """Write settings atomically (temp file + os.replace); raises OSError if it cannot."""
        self._write(self._text_of(s))

    def save_if_changed(self, s: AppSettings) -> bool:
        """Write settings as save() does if they differ from the file; return True if written."""
        text = self._text_of(s)
        if text == self._saved_text:
            return False
        self._write(text)
        return True

    @staticmethod
    def _text_of(s: AppSettings) -> str:
        """Return the file text of settings, with the loader's rules applied."""
        # Round-trip through the loader's rules: a bad value set in memory must not be saved.
        clean, bad = settings_from_dict(json.loads(json.dumps(asdict(s), default=str)))
        if bad:
            log.warning("settings: not saving invalid values of %s (defaults saved)", bad)
        text = json.dumps(settings_to_dict(clean), indent=2, allow_nan=False, ensure_ascii=False)
        return text + "\n"

    def _write(self, text: str) -> None:
        """Publish text as the settings file in one step: a crash leaves the old or the new."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=self.path.name + ".", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())  # the rename must not publish an empty file after a crash
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        self._saved_text = text
        _sync_folder(self.path.parent)

    def _keep_damaged(self) -> str:
        """Rename the damaged file aside and return the sentence saying where it went."""
        stamp = self._now().strftime("%Y%m%d-%H%M%S")
        target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        n = 1
        while target.exists():
            target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{n}")
            n += 1
        try:
            os.replace(self.path, target)
        except OSError as e:
            log.warning("settings: could not keep %s as %s: %s", self.path, target, e)
            return f"The old file {self.path} could not be renamed ({e.strerror or e})."
        log.warning("settings: damaged file kept as %s", target)
        self.kept_copy = target
        return f"The old file was kept as {target}."
