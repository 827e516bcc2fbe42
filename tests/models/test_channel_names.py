"""Channel names: the user's first, the CTP10's port names beneath, "CH n" for the rest."""

from __future__ import annotations

import pytest

from ctp10_gui.models.channel_names import ChannelNames, channel_key, key_channel


def test_port_names_by_default_user_names_over_them_and_back() -> None:
    stored: dict[str, str] = {}
    names = ChannelNames(stored)
    assert [names.title(channel_key(c)) for c in (1, 3, 4, 5)] == [
        "CH1 · IN1", "CH3 · TLS IN", "CH4 · OUT TO DUT", "CH5"]
    names.rename("CH3", "  input   GC ")
    assert names.title("CH3") == "CH3 · input GC" and stored == {"CH3": "input GC"}
    names.rename("CH3", "")
    assert names.title("CH3") == "CH3 · TLS IN" and stored == {}
    assert names.title("IL") == "IL" and key_channel("IL") is None and key_channel("CH6") == 6
    with pytest.raises(ValueError, match="longer than 24"):
        names.rename("CH1", "x" * 25)
