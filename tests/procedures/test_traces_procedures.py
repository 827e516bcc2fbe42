"""Trace-fetch procedure replayed against exact SCPI exchanges."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from ctp10_gui.hardware.ctp10 import TraceType
from ctp10_gui.hardware.errors import LinkError, LinkFailure
from ctp10_gui.hardware.replay import expected_protocol, ieee_block
from ctp10_gui.procedures.traces import (
    TraceRequest,
    fetch_traces,
    save_traces,
    trace_requests,
)

WHEN = datetime(2026, 12, 4, 4, 30, tzinfo=UTC)
SETTINGS = [
    (":INIT:WAV:STAR?", "1.52E-6"),
    (":INIT:WAV:STOP?", "1.58E-6"),
    (":INIT:WAV:SAMP?", "1.0E-12"),
    (":INIT:STAB?", "1,2.5"),
    (":INIT:STAB?", "1,2.5"),
]
Y = np.array([-3.5, -40.25, -80.0], dtype=">f4")


def trace(module: int, channel: int, t: int, payload: bytes | Exception | None = None) -> list[
        tuple[str, object]]:
    base = f":TRAC:SENS{module}:CHAN{channel}:TYPE{t}:DATA"
    if isinstance(payload, Exception):
        return [(f"{base}:LENG?", None), (None, payload)]
    return [(f"{base}:LENG?", "3"), (f"{base}:STAR?", "1.52E-6"), (f"{base}:SAMP?", "1.0E-12"),
            (f"{base}? BIN,DB", ieee_block(payload if payload is not None else Y.tobytes()))]


def test_requests_go_channel_by_channel_then_type_by_type() -> None:
    asked = trace_requests(4, [1, 3], [TraceType.TF_LIVE, TraceType.RAW_LIVE])
    assert [(r.channel, int(r.trace_type)) for r in asked] == [(1, 1), (1, 11), (3, 1), (3, 11)]


def test_settings_then_every_trace_with_progress() -> None:
    exchange = [*SETTINGS, *trace(4, 1, 1), *trace(4, 2, 1)]
    progress: list[tuple[int, int]] = []
    with expected_protocol(exchange) as ctp:
        got = fetch_traces(ctp, trace_requests(4, [1, 2], [TraceType.TF_LIVE]),
                           progress=lambda done, total: progress.append((done, total)),
                           now=lambda: WHEN)
    assert got.settings == pytest.approx({"start_nm": 1520.0, "stop_nm": 1580.0,
                                          "sampling_pm": 1.0, "stabilization_output": True,
                                          "stabilization_s": 2.5})
    assert [(t.module, t.channel, t.unit) for t in got.traces] == [(4, 1, "dB"), (4, 2, "dB")]
    np.testing.assert_allclose(got.traces[1].values, Y.astype(float))
    np.testing.assert_allclose(got.traces[0].wavelength_nm, [1520.0, 1520.001, 1520.002])
    assert progress == [(1, 2), (2, 2)]
    assert got.errors == () and got.acquired == WHEN and not got.cancelled
    assert got.identity is None  # connect() never ran on this replay


def test_a_refused_trace_is_named_and_the_others_are_still_read() -> None:
    # Type 24 does not exist: refused before sending. Type 5 exists, but this module lacks it:
    # the instrument stays silent and queues -114, which the driver reads after reopening.
    silent = LinkError("TCPIP::replay::5025::SOCKET", LinkFailure.TIMEOUT, "within 1 s")
    exchange = [*SETTINGS, *trace(4, 1, 5, silent), ("*IDN?", "EXFO,CTP10,SN1,1.0"),
                ("SYST:ERR?", '-114,"Header suffix out of range"'), ("SYST:ERR?", "0,No error"),
                *trace(4, 1, 11)]
    with expected_protocol(exchange) as ctp:
        got = fetch_traces(ctp, [TraceRequest(4, 1, 24),  # type: ignore[arg-type]
                                 TraceRequest(4, 1, 5),  # type: ignore[arg-type]
                                 TraceRequest(4, 1, TraceType.RAW_LIVE)], now=lambda: WHEN)
    assert [int(t.trace_type) for t in got.traces] == [11]
    assert got.errors == (
        "M4 C1 type 24: trace_type = 24 is out of range: valid is 1–23",
        'M4 C1 type 5: module 4 channel 1 offers no trace type 5 (the instrument answered '
        '-114 "Header suffix out of range")',
    )


def test_link_loss_ends_the_whole_fetch() -> None:
    # A silent reply might be a refused trace type: the driver reopens to ask, nobody answers.
    lost = LinkError("TCPIP::replay::5025::SOCKET", LinkFailure.TIMEOUT, "within 30 s")
    gone = LinkError("TCPIP::replay::5025::SOCKET", LinkFailure.REFUSED)
    exchange = [*SETTINGS, *trace(4, 1, 1, lost), ("*IDN?", gone)]
    with expected_protocol(exchange) as ctp, pytest.raises(LinkError) as caught:
        fetch_traces(ctp, trace_requests(4, [1, 2], [TraceType.TF_LIVE]))
    assert caught.value.kind is LinkFailure.REFUSED


def test_cancel_stops_before_the_next_trace() -> None:
    answers = iter([False, True])
    exchange = [*SETTINGS, *trace(4, 1, 1)]
    with expected_protocol(exchange) as ctp:
        got = fetch_traces(ctp, trace_requests(4, [1, 2, 3], [TraceType.TF_LIVE]),
                           cancelled=lambda: next(answers), now=lambda: WHEN)
    assert len(got.traces) == 1 and got.cancelled


def test_save_keeps_saving_after_a_refused_trace() -> None:
    exchange = [(":TRAC:SENS4:CHAN1:TYPE1:SAVE", None), ("SYST:ERR?", "0,No error"),
                (":TRAC:SENS4:CHAN1:TYPE2:SAVE", None),
                ("SYST:ERR?", '-114,"Header suffix out of range"'), ("SYST:ERR?", "0,No error"),
                (":TRAC:SENS4:CHAN2:TYPE1:SAVE", None), ("SYST:ERR?", "0,No error")]
    with expected_protocol(exchange) as ctp:
        errors = save_traces(ctp, [TraceRequest(4, 1, 1), TraceRequest(4, 1, 2),
                                   TraceRequest(4, 2, 1)])
    assert errors == ('M4 C1 type 2: module 4 channel 1 offers no trace type 2 (the instrument '
                      'answered -114 "Header suffix out of range")',)
