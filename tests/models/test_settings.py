"""Settings: JSON round trip, atomic save, corrupt files, bad fields, folders (no Qt)."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

import pytest

from ctp10_gui.models.settings import (
    AppSettings,
    SettingsStore,
    data_dir,
    default_backoff,
    log_dir,
)

FIXED_NOW = datetime(2025, 3, 14, 15, 9, 26)


def store(tmp_path: Path) -> SettingsStore:
    return SettingsStore(tmp_path / "cfg" / "settings.json", now=lambda: FIXED_NOW)


def write(s: SettingsStore, data: object) -> None:
    s.path.parent.mkdir(parents=True, exist_ok=True)
    s.path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")


def test_missing_file_gives_defaults_without_a_problem(tmp_path: Path) -> None:
    s = store(tmp_path)
    assert s.load() == AppSettings()
    assert s.load_problem is None
    assert AppSettings().address is None and AppSettings().use_simulator  # starts on simulator


def test_round_trip_keeps_every_field(tmp_path: Path) -> None:
    s = store(tmp_path)
    a = AppSettings(
        address="TCPIP::10.0.0.5::5025::SOCKET",
        recent_addresses=["10.0.0.5", "lab-ctp10"],
        use_simulator=False,
        module=7,
        channels=[2, 5],
        poll_interval_s=0.001,
        live=False,
        window_s=3600.0,
        power_unit="mW",
        theme="light",
        min_span_db=0.5,
        geometry_b64="AdnQywADAAA=",
        window_state_b64="AAAA/wAAAAD9",
        references={"CTP10-0042/M4/C2/1550.123nm": -12.5},
        stale_after_s=2.5,
        reply_deadline_s=7.5,
        backoff={"initial_s": 0.5, "factor": 3.0, "cap_s": 60.0, "jitter": 0.1, "max_attempts": 4,
                 "slow_retry_s": 120.0},
        record_folder="/data/rec",
        export_dir="/data/exp",
        flight_recorder_minutes=0.0,
        big_numbers_scale=2.5,
    )
    s.save(a)
    assert SettingsStore(s.path).load() == a
    assert json.loads(s.path.read_text(encoding="utf-8"))["version"] == 1
    assert [p.name for p in s.path.parent.iterdir()] == ["settings.json"]  # no temp file left


def test_save_replaces_an_existing_file(tmp_path: Path) -> None:
    s = store(tmp_path)
    s.save(AppSettings(module=2))
    s.save(AppSettings(module=3))
    assert s.load().module == 3


def test_corrupt_json_gives_defaults_and_keeps_the_file(tmp_path: Path) -> None:
    s = store(tmp_path)
    write(s, '{"module": 7, "channels": [1,')
    assert s.load() == AppSettings()
    kept = s.path.with_name("settings.json.corrupt-20250314-150926")
    assert kept.read_text(encoding="utf-8") == '{"module": 7, "channels": [1,'
    assert not s.path.exists() and s.kept_copy == kept
    assert s.load_problem == (
        f"Settings file was corrupt; started with defaults. The old file was kept as {kept}."
    )
    s.path.write_bytes(b"\xff\xfe not UTF-8")  # a second corruption in the same second
    s.load()
    assert s.path.with_name("settings.json.corrupt-20250314-150926-1").exists()


@pytest.mark.parametrize("data", ["[1, 2, 3]", "null", "42", ""])
def test_json_that_is_not_an_object_counts_as_corrupt(tmp_path: Path, data: str) -> None:
    s = store(tmp_path)
    write(s, data)
    assert s.load() == AppSettings()
    assert s.load_problem is not None and s.load_problem.startswith("Settings file was corrupt")


def test_wrong_types_reset_only_the_bad_fields(tmp_path: Path) -> None:
    s = store(tmp_path)
    write(
        s,
        {
            "module": "four",
            "channels": [1, 3],
            "poll_interval_s": True,
            "theme": "light",
            "live": "yes",
            "window_s": 600,
            "address": 5025,
            "power_unit": "mW",
            "future_option": 1,  # from a newer version: ignored, not a problem
        },
    )
    got = s.load()
    assert got.channels == [1, 3] and got.theme == "light" and got.window_s == 600.0
    assert got.power_unit == "mW"
    assert got.module == 4 and got.poll_interval_s == 0.05 and got.live is True
    assert got.address is None
    assert s.load_problem is not None
    for name in ("module", "poll_interval_s", "live", "address"):
        assert name in s.load_problem
    assert "theme" not in s.load_problem and "future_option" not in s.load_problem
    assert "kept as" in s.load_problem and s.kept_copy is not None and s.kept_copy.exists()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("poll_interval_s", 0.0005),
        ("poll_interval_s", 11.0),
        ("module", 0),
        ("module", 21),
        ("channels", [0, 1]),
        ("channels", [7]),
        ("channels", []),
        ("window_s", 30),
        ("power_unit", "W"),
        ("theme", "blue"),
        ("min_span_db", -1.0),
        ("stale_after_s", 0.0),
        ("reply_deadline_s", 0.0),
        ("reply_deadline_s", "5"),
        ("flight_recorder_minutes", 2000),
        ("big_numbers_scale", 9),
    ],
)
def test_out_of_range_values_fall_back_to_defaults(
    tmp_path: Path, name: str, value: object
) -> None:
    s = store(tmp_path)
    good_name, good_value = ("theme", "light") if name != "theme" else ("module", 7)
    write(s, {name: value, good_name: good_value})
    got = s.load()
    assert getattr(got, name) == getattr(AppSettings(), name)
    assert getattr(got, good_name) == good_value
    assert s.load_problem is not None and name in s.load_problem


def test_containers_keep_their_good_entries(tmp_path: Path) -> None:
    s = store(tmp_path)
    write(
        s,
        {
            "recent_addresses": ["a", 5, "b", "a"] + [f"h{i}" for i in range(12)],
            "references": {"k1": -3.0, "k2": "x", "k3": None},
            "channels": [4, 2, 2],
            "backoff": {"initial_s": 2.0, "cap_s": -1, "max_attempts": 3.5, "unknown": 1},
        },
    )
    got = s.load()
    assert got.recent_addresses == ["a", "b", *(f"h{i}" for i in range(8))]  # ≤ 10, no repeats
    assert got.references == {"k1": -3.0}
    assert got.channels == [2, 4]
    assert got.backoff == {**default_backoff(), "initial_s": 2.0}
    assert s.load_problem is not None
    for name in ("recent_addresses", "references", "backoff.cap_s", "backoff.max_attempts"):
        assert name in s.load_problem


def test_backoff_cap_below_initial_resets_both(tmp_path: Path) -> None:
    s = store(tmp_path)
    write(s, {"backoff": {"initial_s": 50.0, "cap_s": 10.0}})
    assert s.load().backoff == default_backoff()


def test_unreadable_file_gives_defaults_and_a_sentence(tmp_path: Path) -> None:
    s = SettingsStore(tmp_path)  # a folder: reading it fails with an OSError
    assert s.load() == AppSettings()
    assert s.load_problem is not None and "could not be read" in s.load_problem
    assert tmp_path.is_dir()  # nothing renamed


def test_save_never_writes_invalid_values(tmp_path: Path) -> None:
    s = store(tmp_path)
    s.save(AppSettings(module=99, poll_interval_s=float("nan"), theme="light"))
    got = s.load()
    assert got.module == 4 and got.poll_interval_s == 0.05 and got.theme == "light"
    assert s.load_problem is None


def test_remember_address_keeps_ten_most_recent_without_repeats() -> None:
    a = AppSettings()
    for i in range(12):
        a.remember_address(f"10.0.0.{i}")
    a.remember_address(" 10.0.0.5 ")
    assert a.address == "10.0.0.5" and not a.use_simulator
    assert a.recent_addresses == [
        "10.0.0.5",
        "10.0.0.11",
        "10.0.0.10",
        "10.0.0.9",
        "10.0.0.8",
        "10.0.0.7",
        "10.0.0.6",
        "10.0.0.4",
        "10.0.0.3",
        "10.0.0.2",
    ]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG variables are Linux-only")
def test_log_and_data_dirs_are_created_under_the_user_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    logs, data = log_dir(), data_dir()
    assert logs.is_dir() and logs.is_relative_to(tmp_path / "state")
    assert data.is_dir() and data == tmp_path / "data" / "ctp10-gui"


@pytest.mark.parametrize("depth", [10_000, 200_000])
def test_deeply_nested_json_gives_defaults_a_sentence_and_keeps_the_file(
        tmp_path: Path, depth: int) -> None:
    s = store(tmp_path)
    write(s, '{"module": ' + "[" * depth + "]" * depth + "}")
    assert s.load() == AppSettings()
    assert s.load_problem is not None and s.load_problem.startswith("Settings file was corrupt")
    assert s.kept_copy is not None and s.kept_copy.read_text().startswith('{"module": [[[')
    s.save(AppSettings())  # and the next save works
    assert s.load() == AppSettings() and s.load_problem is None


def test_a_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    s = store(tmp_path)
    s.path.parent.mkdir(parents=True)
    s.path.write_bytes(b"\xef\xbb\xbf" + json.dumps({"module": 7, "theme": "light"}).encode())
    loaded = s.load()
    assert (loaded.module, loaded.theme) == (7, "light")
    assert s.load_problem is None and s.kept_copy is None


def test_a_huge_file_is_not_read_whole(tmp_path: Path) -> None:
    s = store(tmp_path)
    write(s, '{"geometry_b64": "' + "A" * 5_000_000 + '"}')
    assert s.load() == AppSettings()
    assert s.load_problem is not None and "corrupt" in s.load_problem


def test_stale_threshold_shorter_than_the_poll_interval_is_reset(tmp_path: Path) -> None:
    s = store(tmp_path)
    write(s, {"poll_interval_s": 2.0, "stale_after_s": 0.5, "module": 9})
    loaded = s.load()
    assert loaded.stale_after_s is None and loaded.poll_interval_s == 2.0 and loaded.module == 9
    assert s.load_problem is not None and "(stale_after_s)" in s.load_problem
    write(s, {"poll_interval_s": 2.0, "stale_after_s": 2.0})
    assert s.load().stale_after_s == 2.0 and s.load_problem is None


def test_a_reply_deadline_shorter_than_the_stale_threshold_is_raised_to_it(
        tmp_path: Path) -> None:
    s = store(tmp_path)
    write(s, {"poll_interval_s": 0.05, "stale_after_s": 4.0, "reply_deadline_s": 2.0})
    assert s.load().reply_deadline_s == 4.0  # never torn down before it is even stale
    assert s.load_problem is not None and "(reply_deadline_s)" in s.load_problem
    # The default under a slow poll (stale after 3 × 2 s) follows without a complaint.
    write(s, {"poll_interval_s": 2.0})
    assert s.load().reply_deadline_s == 6.0 and s.load_problem is None
    write(s, {"poll_interval_s": 0.05, "stale_after_s": 4.0, "reply_deadline_s": 4.0})
    assert s.load().reply_deadline_s == 4.0 and s.load_problem is None


def test_a_value_no_rule_foresaw_resets_only_its_field(tmp_path: Path) -> None:
    s = store(tmp_path)
    # A 401-digit integer is valid JSON, but float() of it raises OverflowError.
    write(s, '{"poll_interval_s": 1' + "0" * 400 + ', "module": 5}')
    loaded = s.load()
    assert loaded.module == 5 and loaded.poll_interval_s == AppSettings().poll_interval_s
    assert s.load_problem is not None and "(poll_interval_s)" in s.load_problem
