"""The names a user gives channels ("input GC"), defaulting to the CTP10's port names.

Plain Python, no Qt. Channels are keyed "CH<n>" (as derived-channel expressions name them);
the title shown everywhere keeps that key beside the name, so "CH3 · input GC" can never be
confused with another module's channel 3 or with a derived channel.
"""

from __future__ import annotations

from collections.abc import MutableMapping

# The IL RL OPM2 module's detector ports (shared/ctp10-scpi.md); other modules: "CH n" alone.
PORT_NAMES = {1: "IN1", 2: "IN2", 3: "TLS IN", 4: "OUT TO DUT"}
MAX_NAME_CHARS = 24  # a longer name would crowd the card's header and the chart's toggles


def channel_key(channel: int) -> str:
    """Return the key of measured channel n (1–6): "CH<n>"."""
    return f"CH{channel}"


def key_channel(key: str) -> int | None:
    """Return the channel number of a "CH<n>" key, None for any other key (a derived one)."""
    if key.startswith("CH") and key[2:].isdigit():
        return int(key[2:])
    return None


def check_name(name: str) -> str:
    """Return name stripped; ValueError with a sentence if it is too long."""
    name = " ".join(name.split())
    if len(name) > MAX_NAME_CHARS:
        raise ValueError(f"{name!r} is longer than {MAX_NAME_CHARS} characters")
    return name


class ChannelNames:
    """User names by channel key over a settings table (edited in place), port names beneath."""

    def __init__(self, labels: MutableMapping[str, str]) -> None:
        self.labels = labels  # AppSettings.channel_labels: "CH3" → "input GC"

    def name(self, key: str) -> str:
        """Return the user's name of key, else the port name, else "" (derived: the key)."""
        if self.labels.get(key):
            return self.labels[key]
        channel = key_channel(key)
        if channel is None:
            return key
        return PORT_NAMES.get(channel, "")

    def title(self, key: str) -> str:
        """Return what views show: "CH3 · input GC", "CH5" without a name, a derived key as is."""
        channel = key_channel(key)
        name = self.name(key)
        if channel is None or not name:
            return key
        return f"{key} · {name}"

    def rename(self, key: str, name: str) -> None:
        """Name key (an empty name restores the default); ValueError if name is too long."""
        name = check_name(name)
        if name:
            self.labels[key] = name
        else:
            self.labels.pop(key, None)
