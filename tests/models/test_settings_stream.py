"""Stream-server settings: port, extra origins and client limit are checked like the others."""

from __future__ import annotations

from ctp10_gui.models.settings import AppSettings, settings_from_dict


def test_stream_settings_defaults_and_good_values() -> None:
    s = AppSettings()
    assert (s.stream_port, s.stream_origins, s.stream_max_clients) == (8002, [], 32)
    s, bad = settings_from_dict({"stream_port": 0, "stream_origins": ["http://labpc:3000/"],
                                 "stream_max_clients": 4})
    assert bad == []
    assert (s.stream_port, s.stream_origins, s.stream_max_clients) == (
        0, ["http://labpc:3000"], 4)


def test_bad_stream_settings_get_defaults_and_are_named() -> None:
    s, bad = settings_from_dict({"stream_port": 70000, "stream_origins": ["labpc"],
                                 "stream_max_clients": 0})
    assert sorted(bad) == ["stream_max_clients", "stream_origins", "stream_port"]
    assert (s.stream_port, s.stream_origins, s.stream_max_clients) == (8002, [], 32)
