"""Declare every CTP10 setting once (command, unit, valid range) and the channels using them.

A :class:`Control` says how to read and write one setting; a :class:`Channel` (sweep, TLS n,
reference laser r, detector m/c) fills the template fields and talks through its owner, the
:class:`~ctp10_gui.hardware.ctp10.CTP10`. A set is validated before anything is sent, followed by
a ``SYST:ERR?`` check and a read-back. Replies in SI base units are converted in one place,
:func:`from_si`.
"""

from __future__ import annotations

import enum
import math
import numbers
import string
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, ClassVar, Protocol

from ctp10_gui.hardware.errors import (
    CTP10Error,
    LinkError,
    LinkFailure,
    NotAvailableError,
    OutOfRangeError,
)
from ctp10_gui.hardware.laser_models import (
    find_laser_model,
    laser_installed,
    laser_model,
    list_text,
)

__all__ = [
    "DETECTOR_CHANNELS",
    "DETECTOR_MODULES",
    "REFERENCE_LASERS",
    "SPEED_OF_LIGHT_M_S",
    "TUNABLE_LASERS",
    "WAVELENGTH_MAX_NM",
    "WAVELENGTH_MIN_NM",
    "Channel",
    "Control",
    "Detector",
    "PowerUnit",
    "ReferenceLaser",
    "SessionCache",
    "Sweep",
    "TunableLaser",
    "XUnit",
    "check_index",
    "format_number",
    "frequency_thz",
    "from_si",
    "milliwatts",
    "speed_control",
]

SPEED_OF_LIGHT_M_S = 299_792_458.0
# SCPI's "no number" (9.91E37 of either sign) and anything at least this large in magnitude.
SCPI_SENTINEL_ABS = 9e37
WAVELENGTH_MIN_NM = 1240.0
WAVELENGTH_MAX_NM = 1680.0
TUNABLE_LASERS = (1, 4)
REFERENCE_LASERS = (1, 10)
DETECTOR_MODULES = (1, 20)
DETECTOR_CHANNELS = (1, 6)

# Replies come in SI base units (metres); this is the only place they are scaled.
_SI_SCALE = {"nm": 1e9, "pm": 1e12}
# Scaling metres leaves float dust (1.55e-6 m -> 1550.0000000000002 nm); 1e-6 of the unit is
# far below any CTP10 resolution.
_SI_DECIMALS = 6


def is_no_value(reply: str) -> bool:
    """Return True for a reply that carries no number: empty, NaN, ±INF or a SCPI sentinel.

    The one rule for every numeric reply: live power reads such replies as under or over range
    (hardware.power), a setting read as "not available" (Channel.get).
    """
    text = reply.strip().strip('"').strip()
    if not text:
        return True
    try:
        number = float(text.split(",")[0])
    except ValueError:
        return False
    return not math.isfinite(number) or abs(number) >= SCPI_SENTINEL_ABS


class PowerUnit(enum.Enum):
    """Name a detector's power unit; member order is the numeric reply code (0, 1)."""

    DBM = "DBM"
    MW = "MW"


class XUnit(enum.Enum):
    """Name a detector's spectral unit; member order is the numeric reply code (0, 1)."""

    WAV = "WAV"
    FREQ = "FREQ"


def from_si(value: float, unit: str) -> float:
    """Convert a reply in SI base units (m) to unit ("nm" or "pm")."""
    return round(value * _SI_SCALE[unit], _SI_DECIMALS)


def frequency_thz(wavelength_nm: float, scale: float = 1e12) -> float:
    """Return the optical frequency in THz (Hz × scale) of a vacuum wavelength in nm (c/λ)."""
    return SPEED_OF_LIGHT_M_S / (wavelength_nm * 1e-9) / scale


def milliwatts(power_dbm: float) -> float:
    """Return a power in dBm as mW (0 dBm = 1 mW)."""
    return float(10.0 ** (power_dbm / 10.0))


def format_number(value: float) -> str:
    """Return value as short SCPI text: 1550 -> "1550", 0.02 -> "0.02", up to 6 decimals."""
    text = f"{float(value):.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _bound_text(value: float | None, *, lower: bool) -> str:
    """Return a range bound in 7 significant digits, rounded inwards (a shown bound is valid)."""
    number = float(value or 0.0)
    if number == 0.0 or float(f"{number:.7g}") == number:
        return format_number(number) if abs(number) < 1e5 else f"{number:.7g}"
    quantum = 10.0 ** (math.floor(math.log10(abs(number))) - 6)
    rounded = (math.ceil if lower else math.floor)(number / quantum) * quantum
    return f"{rounded:.7g}"


class _Number(float):
    """A float that formats short by default and honours explicit specs ("{value:.3f}")."""

    def __format__(self, spec: str) -> str:
        return format(float(self), spec) if spec else format_number(self)


def check_index(name: str, value: object, bounds: tuple[int, int]) -> int:
    """Return value if it is a whole number within bounds, else raise OutOfRangeError."""
    low, high = bounds
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise OutOfRangeError(name, value, f"{low}–{high}", "is not a whole number")
    if not low <= int(value) <= high:
        raise OutOfRangeError(name, value, f"{low}–{high}")
    return int(value)


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


@dataclass(frozen=True)
class Control:
    """Declare one setting: its commands, unit, type and valid range (checked before sending)."""

    name: str
    label: str
    unit: str
    get_command: str | None
    set_command: str | None
    kind: type[Any] = float
    minimum: float | None = None
    maximum: float | None = None
    allowed: tuple[Any, ...] | None = None
    # With minimum/maximum: values must also be whole multiples of step (sampling 1…250 pm).
    step: float | None = None
    # The reply is in SI base units and is converted to `unit` by from_si.
    reply_si: bool = False
    # Which comma-separated field of the reply holds this value (":INIT:STAB?" -> "1,5.6").
    field: int | None = None
    # Words sent for True/False; replies accept 1/0 and ON/OFF either way.
    words: tuple[str, str] = ("1", "0")
    # A read-only value computed from another control of the same channel: (source, function).
    derive: tuple[str, Callable[[Any], Any]] | None = None

    @property
    def read_only(self) -> bool:
        """Return True if the control cannot be set."""
        return self.set_command is None

    @property
    def range_text(self) -> str:
        """Return the valid range in words, e.g. "1240–1680 nm" or "one of 10, 20 nm/s"."""
        unit = f" {self.unit}" if self.unit else ""
        if isinstance(self.kind, type) and issubclass(self.kind, enum.Enum):
            return "one of " + ", ".join(member.value for member in self.kind)
        if self.kind is bool:
            return "on or off"
        has_span = self.minimum is not None and self.maximum is not None
        low = _bound_text(self.minimum, lower=True)
        high = _bound_text(self.maximum, lower=False)
        if self.allowed:
            items = [list_text(self.allowed)]
            if has_span:
                items.append(f"{low}…{high}")
            return "one of " + ", ".join(items) + unit
        if has_span:
            return f"{low}–{high}{unit}"
        if self.minimum is not None:
            return f"at least {low}{unit}"
        if self.maximum is not None:
            return f"at most {high}{unit}"
        return f"any number{unit}"

    def validate(self, value: Any) -> Any:
        """Return value in canonical form if valid, else raise OutOfRangeError naming the range."""
        if self.read_only:
            raise AttributeError(f"{self.name} is read-only")
        kind = self.kind
        if isinstance(kind, type) and issubclass(kind, enum.Enum):
            return self._validate_enum(value)
        if kind is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, numbers.Integral) and int(value) in (0, 1):
                return bool(value)
            raise OutOfRangeError(self.name, value, self.range_text, "is not on/off")
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise OutOfRangeError(self.name, value, self.range_text, "is not a number")
        number = float(value)
        if not math.isfinite(number):
            raise OutOfRangeError(self.name, value, self.range_text, "is not a finite number")
        if kind is int:
            if not number.is_integer():
                raise OutOfRangeError(self.name, value, self.range_text, "is not a whole number")
            number = int(number)
        if self.allowed:
            for candidate in self.allowed:
                if _close(number, candidate):
                    return kind(candidate)
        if self.minimum is not None or self.maximum is not None:
            low = -math.inf if self.minimum is None else self.minimum
            high = math.inf if self.maximum is None else self.maximum
            in_span = low - 1e-9 <= number <= high + 1e-9
            on_step = self.step is None or _close(number / self.step, round(number / self.step))
            if in_span and on_step:
                return kind(number)
        elif not self.allowed:
            return kind(number)
        raise OutOfRangeError(self.name, value, self.range_text)

    def _validate_enum(self, value: Any) -> enum.Enum:
        kind: type[enum.Enum] = self.kind
        if isinstance(value, kind):
            return value
        if isinstance(value, str):
            for member in kind:
                if value.strip().upper() in (member.name, str(member.value).upper()):
                    return member
        raise OutOfRangeError(self.name, value, self.range_text)

    def encode(self, value: Any) -> object:
        """Return value ready for the set template (bool -> word, enum -> text, float -> number)."""
        if isinstance(value, enum.Enum):
            return str(value.value)
        if isinstance(value, bool):
            return self.words[0] if value else self.words[1]
        if isinstance(value, numbers.Integral):
            return str(int(value))
        return _Number(value)

    def decode(self, reply: str) -> Any:
        """Return the value of reply in this control's unit; raise ValueError if it is not one."""
        text = reply.strip()
        if self.field is not None:
            fields = text.split(",")
            if len(fields) <= self.field:
                raise ValueError(f"expected at least {self.field + 1} comma-separated values")
            text = fields[self.field].strip()
        text = text.strip('"').strip()
        kind = self.kind
        if isinstance(kind, type) and issubclass(kind, enum.Enum):
            return _decode_enum(kind, text)
        if kind is bool:
            word = text.upper()
            if word in ("1", "ON", "+1", "TRUE"):
                return True
            if word in ("0", "OFF", "+0", "FALSE"):
                return False
            raise ValueError("not on/off")
        number = float(text)
        if not math.isfinite(number):
            raise ValueError("not a finite number")
        if self.reply_si:
            number = from_si(number, self.unit)
        if kind is int:
            if not number.is_integer():
                raise ValueError("not a whole number")
            return int(number)
        return number


def _decode_enum(kind: type[enum.Enum], text: str) -> enum.Enum:
    members = list(kind)
    try:
        code = float(text)
    except ValueError:
        word = text.upper()
        for member in members:
            # Long forms ("WAVELENGTH", "FREQUENCY") start with the short name.
            if word == str(member.value).upper() or word.startswith(member.name):
                return member
        raise ValueError(f"not one of {', '.join(m.name for m in members)}") from None
    if code.is_integer() and 0 <= int(code) < len(members):
        return members[int(code)]
    raise ValueError(f"code {text} is not one of 0–{len(members) - 1}")


def _template_fields(template: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]


@dataclass
class SessionCache:
    """Hold what was learned on one connection; a new connection starts from an empty one."""

    # Compound queries ("A?;B?" answered "a;b"): None until tried on this connection.
    compound: bool | None = None
    # Detector power units read or set through this driver, by (module, channel).
    power_units: dict[tuple[int, int], PowerUnit] = field(default_factory=dict)
    # Laser model at each TLS (1–4) and reference laser (1–10) position; None: no laser.
    tls_models: dict[int, str | None] = field(default_factory=dict)
    laser_models: dict[int, str | None] = field(default_factory=dict)

    def forget_settings(self) -> None:
        """Forget the instrument settings (after *RST); compound support is kept."""
        self.power_units.clear()
        self.tls_models.clear()
        self.laser_models.clear()


class Owner(Protocol):
    """What a channel needs from the instrument object (implemented by CTP10)."""

    session: SessionCache

    def query(self, command: str) -> str:
        """Send a query and return its reply."""
        ...

    def write(self, command: str) -> None:
        """Send a command without reply."""
        ...

    def check_errors(self, command: str) -> None:
        """Raise InstrumentError if the error queue holds an error after command."""
        ...

    def garbled(self, command: str, reply: str, why: str) -> LinkError:
        """Close the session and return the LinkError for an unparseable reply."""
        ...

    def diagnose_silence(self, part: str, silence: LinkError,
                         absence: Callable[[], str]) -> CTP10Error:
        """Return why part did not answer: missing hardware, else silence (the link's error)."""
        ...


class Channel:
    """Give get/set and attribute access to a channel's declared controls."""

    controls: ClassVar[tuple[Control, ...]] = ()
    _by_name: ClassVar[dict[str, Control]] = {}
    _owner: Owner
    _diagnosing = False  # while asking why this channel stayed silent

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._by_name = {control.name: control for control in cls.controls}

    def __init__(self, owner: Owner) -> None:
        object.__setattr__(self, "_owner", owner)

    def _index(self) -> dict[str, int]:
        """Return the template fields naming this channel ({n}, {r}, {m}, {c})."""
        return {}

    def _part(self) -> str | None:
        """Return the hardware behind this channel ("reference laser 3"), None if always there."""
        return None

    def _absence(self) -> str:
        """Return why the hardware behind this channel is not there, "" when it is."""
        return ""

    def control(self, name: str) -> Control:
        """Return the declared control called name (KeyError names the known ones)."""
        try:
            return self._by_name[name]
        except KeyError:
            known = ", ".join(self._by_name)
            raise KeyError(
                f"{type(self).__name__} has no control {name!r} (known: {known})"
            ) from None

    def control_for_set(self, name: str) -> Control:
        """Return the control whose range applies when setting name (may depend on hardware)."""
        return self.control(name)

    def get(self, name: str) -> Any:
        """Read a control from the instrument and return it in the control's unit."""
        control = self.control(name)
        if control.derive is not None:
            source, function = control.derive
            value = self.get(source)
            try:
                return function(value)
            except ArithmeticError:  # 0 nm has no frequency: that field has no value now
                raise NotAvailableError(control.label, str(value)) from None
        if control.get_command is None:
            raise AttributeError(f"{name} is write-only")
        command = control.get_command.format(**self._index())
        try:
            reply = self._owner.query(command)
        except LinkError as exc:
            part = self._part()
            if exc.kind is not LinkFailure.TIMEOUT or part is None or self._diagnosing:
                raise
            # An empty slot may stay silent instead of answering: tell it from a dead link.
            object.__setattr__(self, "_diagnosing", True)  # a silent _absence() read: no loop
            try:
                error = self._owner.diagnose_silence(part, exc, self._absence)
            finally:
                object.__setattr__(self, "_diagnosing", False)
            raise error from exc
        if control.kind in (int, float) and is_no_value(reply):
            # One whole reply line to this query, in step: the field has no value, the link
            # is fine (a bad value in one field is that field's problem).
            raise NotAvailableError(control.label, reply)
        try:
            value = control.decode(reply)
        except ValueError as exc:
            raise self._owner.garbled(command, reply, f"{control.label}: {exc}") from exc
        self._remember(name, value)
        return value

    def set(self, name: str, value: Any) -> Any:
        """Validate, send, check SYST:ERR?, read back and return the read-back value."""
        if self.control(name).read_only:
            raise AttributeError(f"{name} is read-only")
        control = self.control_for_set(name)
        checked = control.validate(value)
        assert control.set_command is not None  # read_only ruled out above
        fields: dict[str, object] = dict(self._index())
        fields["value"] = control.encode(checked)
        for sibling in _template_fields(control.set_command):
            if sibling not in fields:
                # A command setting two values at once (":INIT:STAB 1,5.6") keeps the other one.
                other = self.control(sibling)
                fields[sibling] = other.encode(self.get(sibling))
        command = control.set_command.format(**fields)
        self._owner.write(command)
        self._owner.check_errors(command)
        readable = control.get_command is not None or control.derive is not None
        result = self.get(name) if readable else checked
        self._remember(name, result)
        return result

    def _remember(self, name: str, value: Any) -> None:
        """Note a value just read or set (subclasses cache what snapshots need)."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in type(self)._by_name:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return self.get(name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in type(self)._by_name:
            self.set(name, value)
        else:
            object.__setattr__(self, name, value)

    def describe(self) -> dict[str, str]:
        """Return name -> "label (range)" for every control, for tooltips and docs."""
        return {c.name: f"{c.label} ({c.range_text})" for c in self.controls}


def _wavelength(name: str, label: str, get_command: str, set_command: str) -> Control:
    """Declare a wavelength setting: nm, 1240–1680, replied in metres."""
    return Control(name, label, "nm", get_command, set_command, minimum=WAVELENGTH_MIN_NM,
                   maximum=WAVELENGTH_MAX_NM, reply_si=True)


def _power_dbm(name: str, label: str, get_command: str, set_command: str) -> Control:
    """Declare a laser power setpoint: dBm, −20 to +20."""
    return Control(name, label, "dBm", get_command, set_command, minimum=-20.0, maximum=20.0)


def _converted(name: str, label: str, unit: str, suffix: str, source: Control,
               convert: Callable[[float], float]) -> Control:
    """Declare source set with another unit suffix: read as convert(source), range converted."""
    assert source.set_command and source.minimum is not None and source.maximum is not None
    low, high = sorted((convert(source.minimum), convert(source.maximum)))
    header = source.set_command.partition(" ")[0]  # the source's own spelling of the command
    return Control(name, label, unit, None, f"{header} {{value}}{suffix}", minimum=low,
                   maximum=high, derive=(source.name, convert))


def _frequency(source: Control, label: str, unit: str = "THz") -> Control:
    """Declare a wavelength setting set by frequency in unit (THz, GHz, Hz; λ = c/f)."""
    # Every wavelength setting takes these suffixes (reference ctp10-scpi.md; PyMeasure PR #1366
    # RLASerChannel.frequency_thz/_ghz/_hz send "WAVelength %gTHZ" etc.); replies stay metres.
    convert = partial(frequency_thz, scale={"THz": 1e12, "GHz": 1e9, "Hz": 1.0}[unit])
    name = source.name.replace("wavelength", "frequency").removesuffix("_nm")
    return _converted(f"{name}_{unit.lower()}", label, unit, unit.upper(), source, convert)


def _power_mw(source: Control) -> Control:
    """Declare a laser power setpoint set in mW (suffix MW), 0.01–100 mW."""
    # PyMeasure PR #1366 sends ":INIT:TLS{ch}:POWer %gMW" and ":CTP:RLASer{ch}:POWer %gMW"; the
    # reference says the query replies in dBm, so the mW value is converted from it.
    return _converted("power_mw", f"{source.label} (mW)", "mW", "MW", source, milliwatts)


_SWEEP_START = _wavelength("start_nm", "Scan start", ":INIT:WAV:STAR?",
                           ":INIT:WAV:STAR {value:.3f}NM")
_SWEEP_STOP = _wavelength("stop_nm", "Scan stop", ":INIT:WAV:STOP?", ":INIT:WAV:STOP {value:.3f}NM")


class Sweep(Channel):
    """Hold the global scan settings (:INIT:…)."""

    controls = (
        _SWEEP_START,
        _SWEEP_STOP,
        Control("sampling_pm", "Sampling step", "pm", ":INIT:WAV:SAMP?",
                ":INIT:WAV:SAMP {value}PM", minimum=1, maximum=250, step=1,
                allowed=(0.5, 0.2, 0.1, 0.05, 0.02), reply_si=True),
        Control("stabilization_output", "Laser on after scan", "", ":INIT:STAB?",
                ":INIT:STAB {value},{stabilization_s}", kind=bool, field=0),
        Control("stabilization_s", "Stabilization time", "s", ":INIT:STAB?",
                ":INIT:STAB {stabilization_output},{value}", minimum=0, maximum=60, field=1),
        _frequency(_SWEEP_START, "Start frequency"),
        _frequency(_SWEEP_STOP, "Stop frequency"),
    )  # fmt: skip


# Speed steps per laser model (nm/s, hardware/laser_models.py); an unknown model: any 5–200.
_SPEED_BASE = Control("speed_nm_s", "Sweep speed", "nm/s", ":INIT:TLS{n}:SPE?",
                      ":INIT:TLS{n}:SPE {value}", kind=int, minimum=5, maximum=200)  # fmt: skip


def speed_control(model: str | None) -> Control:
    """Return the speed control whose allowed values fit the laser model (e.g. "T100S-HP")."""
    facts = find_laser_model(model)
    if facts is None:
        return _SPEED_BASE
    return replace(_SPEED_BASE, minimum=None, maximum=None, allowed=facts.speeds_nm_s)


_TLS_START = _wavelength("start_nm", "Start", ":INIT:TLS{n}:WAV:STAR?",
                         ":INIT:TLS{n}:WAV:STAR {value:.3f}NM")
_TLS_STOP = _wavelength("stop_nm", "Stop", ":INIT:TLS{n}:WAV:STOP?",
                        ":INIT:TLS{n}:WAV:STOP {value:.3f}NM")
_TLS_POWER = _power_dbm("power_dbm", "Power", ":INIT:TLS{n}:POW?", ":INIT:TLS{n}:POW {value}DBM")


class TunableLaser(Channel):
    """Hold the settings of TLS n (1–4), the swept laser assigned to a laser position."""

    controls = (
        Control("identifier", "Laser position", "", ":INIT:TLS{n}:ID?", ":INIT:TLS{n}:ID {value}",
                kind=int, minimum=0, maximum=10),
        _TLS_START,
        _TLS_STOP,
        _SPEED_BASE,
        _TLS_POWER,
        Control("trigger_in", "Trigger input", "", ":INIT:TLS{n}:TRIG?",
                ":INIT:TLS{n}:TRIG {value}", kind=int, minimum=0, maximum=8),
        _power_mw(_TLS_POWER),
        _frequency(_TLS_START, "Start frequency"),
        _frequency(_TLS_STOP, "Stop frequency"),
    )  # fmt: skip
    n: int

    def __init__(self, owner: Owner, n: int) -> None:
        super().__init__(owner)
        object.__setattr__(self, "n", check_index("TLS", n, TUNABLE_LASERS))

    def _index(self) -> dict[str, int]:
        return {"n": self.n}

    def _part(self) -> str | None:
        return f"TLS {self.n}"

    def _absence(self) -> str:
        position = self.get("identifier")
        if not position:
            return "no laser serves it (laser position 0)"
        if not ReferenceLaser(self._owner, position).installed():
            return f"laser position {position} holds no laser"
        return ""

    def model(self) -> str | None:
        """Return the model of the laser at this TLS's position (cached), None if none."""
        models = self._owner.session.tls_models
        if self.n not in models:
            position = self.get("identifier")
            models[self.n] = ReferenceLaser(self._owner, position).model() if position else None
        return models[self.n]

    def control_for_set(self, name: str) -> Control:
        """Return the control for name, with the speed steps of this laser's model."""
        if name == "speed_nm_s":
            return speed_control(self.model())
        return self.control(name)

    def _remember(self, name: str, value: Any) -> None:
        if name == "identifier":
            # Another laser position may be another model with other speed steps.
            self._owner.session.tls_models.pop(self.n, None)


_RLASER_POWER = _power_dbm("power_dbm", "Power", ":CTP:RLAS{r}:POW?",
                           ":CTP:RLAS{r}:POW {value}DBM")
_RLASER_WAVELENGTH = _wavelength("wavelength_nm", "Wavelength", ":CTP:RLAS{r}:WAV?",
                                 ":CTP:RLAS{r}:WAV {value:.3f}NM")


class ReferenceLaser(Channel):
    """Hold the static settings of reference laser r (1–10)."""

    controls = (
        _RLASER_POWER,
        Control("output", "Output", "", ":CTP:RLAS{r}:POW:STAT?",
                ":CTP:RLAS{r}:POW:STAT {value}", kind=bool, words=("ON", "OFF")),
        _RLASER_WAVELENGTH,
        _frequency(_RLASER_WAVELENGTH, "Frequency"),
        _frequency(_RLASER_WAVELENGTH, "Frequency", "GHz"),
        _frequency(_RLASER_WAVELENGTH, "Frequency", "Hz"),
        _power_mw(_RLASER_POWER),
    )  # fmt: skip
    r: int

    def __init__(self, owner: Owner, r: int) -> None:
        super().__init__(owner)
        object.__setattr__(self, "r", check_index("reference laser", r, REFERENCE_LASERS))

    def _index(self) -> dict[str, int]:
        return {"r": self.r}

    def _part(self) -> str | None:
        return f"reference laser {self.r}"

    def _absence(self) -> str:
        identity = self.identity()
        self._owner.session.laser_models[self.r] = laser_model(identity)
        if laser_installed(identity):
            return ""
        return f"not installed: its identity reads {identity!r}"

    def installed(self) -> bool:
        """Return False for an empty laser position (its identity is "NONE")."""
        return laser_installed(self.identity())

    def identity(self) -> str:
        """Return the laser's *IDN? text, e.g. "EXFO,T100S-HP,0,6.06"."""
        return self._owner.query(f":CTP:RLAS{self.r}:IDN?").strip()

    def model(self) -> str | None:
        """Return the laser's model from its identity (cached per connection)."""
        models = self._owner.session.laser_models
        if self.r not in models:
            models[self.r] = laser_model(self.identity())
        return models[self.r]


POWER_QUERY = ":CTP:SENS{m}:CHAN{c}:POW?"
POWER_UNIT_QUERY = ":CTP:SENS{m}:CHAN{c}:UNIT:Y?"


_DETECTOR_WAVELENGTH = _wavelength("wavelength_nm", "Calibration wavelength",
                                   ":CTP:SENS{m}:CHAN{c}:WAV?",
                                   ":CTP:SENS{m}:CHAN{c}:WAV {value}NM")


class Detector(Channel):
    """Hold the settings of detector channel c (1–6) of module m (1–20)."""

    controls = (
        Control("power_unit", "Power unit", "", POWER_UNIT_QUERY,
                ":CTP:SENS{m}:CHAN{c}:UNIT:Y {value}", kind=PowerUnit),
        Control("x_unit", "Spectral unit", "", ":CTP:SENS{m}:CHAN{c}:UNIT:X?",
                ":CTP:SENS{m}:CHAN{c}:UNIT:X {value}", kind=XUnit),
        _DETECTOR_WAVELENGTH,
        _frequency(_DETECTOR_WAVELENGTH, "Calibration frequency"),
        # The logging function's trigger: 0 software, 1–8 TRIG IN port. The reference spells
        # FUNCtion:TRIGger, PyMeasure PR #1366 DetectorChannel.trigger "FUNCtion:TRIGGer": the
        # same header, sent here in its short form.
        Control("logging_trigger", "Logging trigger", "", ":CTP:SENS{m}:CHAN{c}:FUNC:TRIG?",
                ":CTP:SENS{m}:CHAN{c}:FUNC:TRIG {value}", kind=int, minimum=0, maximum=8),
    )  # fmt: skip
    module: int
    channel: int

    def __init__(self, owner: Owner, module: int, channel: int) -> None:
        super().__init__(owner)
        object.__setattr__(self, "module", check_index("module", module, DETECTOR_MODULES))
        object.__setattr__(self, "channel", check_index("channel", channel, DETECTOR_CHANNELS))

    def _index(self) -> dict[str, int]:
        return {"m": self.module, "c": self.channel}

    def _part(self) -> str | None:
        return f"detector module {self.module} channel {self.channel}"

    def _remember(self, name: str, value: Any) -> None:
        if name == "power_unit":
            self._owner.session.power_units[(self.module, self.channel)] = value
