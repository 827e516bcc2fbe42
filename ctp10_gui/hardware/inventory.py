"""What a CTP10 has installed: detector modules and their channels, lasers; read once at connect.

``*OPT?`` (IEEE 488.2) names what sits in each module slot: 20 positional fields, ``0`` for an
empty slot. It does not say how many detectors a module has, nor whether a module has any
(a scan-sync module has none), and a short non-positional reply names no slots at all. So the
channels are probed: each detector's ``UNIT:Y?``, from channel 1 up to the first that does not
answer (detectors are numbered from 1 without gaps).

A missing detector or laser does not answer at all: it queues an error (-241 "hardware
missing") and sends nothing, and waiting for a reply that never comes costs a whole I/O timeout
and leaves a late reply in the stream if one does come. The cheapest probe that never waits is
the query followed at once by ``*IDN?`` in a second message: the next line is the query's reply,
then the identity; or, when the query has nothing to say, the identity at once. One round trip
either way, no compound message needed (whose support is unsure), and a reply that shows up
is never mistaken for silence. Plain Python: no Qt.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ctp10_gui.hardware.ctp10 import CTP10
from ctp10_gui.hardware.errors import LinkError
from ctp10_gui.hardware.instrument_text import printable
from ctp10_gui.hardware.laser_models import laser_model
from ctp10_gui.hardware.power import decode_power_unit
from ctp10_gui.hardware.scpi import (
    DETECTOR_CHANNELS,
    DETECTOR_MODULES,
    POWER_UNIT_QUERY,
    REFERENCE_LASERS,
)

__all__ = ["OPTIONS_QUERY", "Inventory", "parse_options", "read_inventory"]

log = logging.getLogger(__name__)

OPTIONS_QUERY = "*OPT?"
LASER_IDENTITY_QUERY = ":CTP:RLAS{r}:IDN?"
_MARKER_QUERY = "*IDN?"
_EMPTY_FIELDS = frozenset({"", "0", "NONE"})


@dataclass(frozen=True)
class Inventory:
    """Installed hardware: detector module slot (1–20) → channel count (1–6); lasers by position.

    slots holds what *OPT? names in each occupied slot (detector or not); lasers maps a laser
    position (1–10) to its model. known is False when nothing could be read: all is offered.
    """

    detectors: Mapping[int, int] = field(default_factory=dict)
    slots: Mapping[int, str] = field(default_factory=dict)
    lasers: Mapping[int, str] = field(default_factory=dict)
    known: bool = True

    @classmethod
    def unknown(cls) -> Inventory:
        """Return the inventory of an instrument that said nothing usable: everything offered."""
        return cls(known=False)

    def channels(self, module: int) -> tuple[int, ...]:
        """Return the channels of module (1–20) that exist; all 1–6 when unknown."""
        if not self.known:
            return tuple(range(DETECTOR_CHANNELS[0], DETECTOR_CHANNELS[1] + 1))
        return tuple(range(1, self.detectors.get(module, 0) + 1))

    def has_module(self, module: int) -> bool:
        """Return True if module (1–20) holds detectors, or if the inventory is unknown."""
        return not self.known or module in self.detectors

    def module_refusal(self, module: int) -> str:
        """Return the sentence refusing module (1–20), "" when it holds detectors."""
        if self.has_module(module):
            return ""
        name = self.slots.get(module)
        what = f"Module {module} is empty" if name is None else (
            f"Module {module} ({name}) has no detectors")
        slots = sorted(self.detectors)
        if not slots:
            return f"{what}; this CTP10 reports no detector module."
        if len(slots) == 1:
            return f"{what}; the detector module is in slot {slots[0]}."
        return f"{what}; detector modules are in slots {join_numbers(slots)}."

    def channel_refusal(self, module: int, channels: Iterable[int]) -> str:
        """Return the sentence refusing channels (1–6) of module, "" when all exist."""
        if not self.has_module(module):
            return self.module_refusal(module)
        present = set(self.channels(module))
        missing = sorted(set(channels) - present)
        if not missing:
            return ""
        count = len(present)
        has = "channel 1 only" if count == 1 else f"channels 1–{count}"
        which = (f"channel {missing[0]} is" if len(missing) == 1
                 else f"channels {join_numbers(missing)} are")
        return f"Module {module} has {has}: {which} not installed."

    def describe(self) -> str:
        """Return one line for the log: modules with their channels, lasers with their models."""
        if not self.known:
            return "inventory unknown"
        modules = ", ".join(f"slot {m}: {n} channels" for m, n in sorted(self.detectors.items()))
        lasers = ", ".join(f"{r}: {model}" for r, model in sorted(self.lasers.items()))
        return f"detector modules {modules or 'none'}; lasers {lasers or 'none'}"


def join_numbers(numbers: Iterable[int]) -> str:
    """Return "4", "4 and 6" or "1, 4 and 6"."""
    texts = [str(n) for n in numbers]
    if len(texts) <= 1:
        return "".join(texts)
    return f"{', '.join(texts[:-1])} and {texts[-1]}"


def parse_options(reply: str) -> dict[int, str] | None:
    """Return slot (1–20) → module name from an *OPT? reply, None if it is not positional.

    The positional form has one field per slot, "0" (or empty) where nothing is installed:
    "0,0,0,IL RL OPM2,0,…" (20 fields). Quotes and blanks around fields are ignored.
    """
    fields = [printable(part).strip().strip('"').strip() for part in reply.split(",")]
    low, high = DETECTOR_MODULES
    if len(fields) != high - low + 1:
        return None
    return {slot: name for slot, name in zip(range(low, high + 1), fields, strict=True)
            if name.upper() not in _EMPTY_FIELDS}


def read_inventory(ctp: CTP10) -> Inventory:
    """Read what ctp (connected) has installed; the laser models go in its session cache.

    Raise LinkError if the link fails meanwhile; a reply that fits no form is logged and
    leaves that part unknown or empty, never the connection refused.
    """
    try:
        return _read(ctp)
    except LinkError:
        raise
    except Exception:  # the inventory only narrows what is offered: without it, all is
        log.exception("reading the inventory of %s failed; every module and channel is offered",
                      ctp.address)
        return Inventory.unknown()


def _read(ctp: CTP10) -> Inventory:
    probe = _Probe(ctp)
    reply = probe.ask(OPTIONS_QUERY)
    slots = parse_options(reply) if reply is not None else None
    if slots is None:
        # No slot map: every slot is probed, which finds the detector modules all the same.
        log.info("%s answered %s with %r: no slot map; probing every slot", ctp.address,
                 OPTIONS_QUERY, None if reply is None else printable(reply, 200))
        candidates: Iterable[int] = range(DETECTOR_MODULES[0], DETECTOR_MODULES[1] + 1)
    else:
        candidates = sorted(slots)
    detectors: dict[int, int] = {}
    for module in candidates:
        count = probe.channel_count(module)
        if count:
            detectors[module] = count
    lasers: dict[int, str] = {}
    for r in range(REFERENCE_LASERS[0], REFERENCE_LASERS[1] + 1):
        idn = probe.ask(LASER_IDENTITY_QUERY.format(r=r))
        model = laser_model(idn) if idn is not None else None
        ctp.session.laser_models[r] = model
        if model is not None:
            lasers[r] = model
    if slots is None and not detectors:
        return Inventory.unknown()
    inventory = Inventory(detectors, slots or {}, lasers)
    log.info("%s: %s", ctp.address, inventory.describe())
    return inventory


class _Probe:
    """Ask queries a missing part leaves unanswered, without ever waiting for silence."""

    def __init__(self, ctp: CTP10) -> None:
        self._ctp = ctp
        identity = ctp.identity
        if identity is None:
            raise ValueError("read_inventory needs a connected CTP10")
        self._marker = identity.raw

    def ask(self, command: str) -> str | None:
        """Return the reply to command, None when it sent none (its error is drained)."""
        transport = self._ctp.transport
        transport.write(command)
        transport.write(_MARKER_QUERY)
        first = transport.receive(_MARKER_QUERY)
        if printable(first).strip() == self._marker:
            errors = self._ctp.error_queue()  # the query's -241 (or -113) must not linger
            log.debug("%s sent no reply (%s)", command, errors)
            return None
        marker = transport.receive(_MARKER_QUERY)
        if printable(marker).strip() != self._marker:
            raise self._ctp.garbled(command, f"{first};{marker}",
                                    f"expected its reply, then the identity {self._marker!r}")
        return first

    def channel_count(self, module: int) -> int:
        """Return how many detectors module (1–20) has: channels 1… up to the first silent one."""
        count = 0
        for channel in range(DETECTOR_CHANNELS[0], DETECTOR_CHANNELS[1] + 1):
            reply = self.ask(POWER_UNIT_QUERY.format(m=module, c=channel))
            if reply is None or decode_power_unit(reply) is None:
                break
            count = channel
        return count
