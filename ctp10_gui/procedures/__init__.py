"""Measurement procedures: plain functions of the CTP10 driver, run by the link worker.

Each takes the driver first and anything it waits on (progress, cancelled) as callables, so a
view submits `partial(procedure, …)` through `LinkPort.request` and a test replays the exact
SCPI exchange. No Qt here, nothing from link/ or views/.

    sweep.py       SweepPlan, plan_sweep, run_sweep (start, wait until idle, abort)
    preflight.py   check_sweep: the scan's setup and plan, and the reasons it must not start
    reference.py   take_references (one scan per channel), read_references
    traces.py      fetch_traces with the sweep settings, save_traces; per-trace refusals kept
    readers.py     read_detectors (λ + unit), read_wavelengths
    marker.py      read_detector_wavelength for the trace view's live marker
    controls.py    ControlGroup (SWEEP_GROUP, tls_group…), read/write controls, laser info
    instrument_state.py  read_instrument_state for files; set and change sentences
"""

from ctp10_gui.procedures.controls import (
    SWEEP_GROUP,
    ControlGroup,
    TunableLaserInfo,
    detector_group,
    laser_model_controls,
    read_control,
    read_controls,
    read_laser_identity,
    read_tunable_laser,
    reference_laser_group,
    tls_group,
    write_control,
)
from ctp10_gui.procedures.instrument_state import (
    apply_setting,
    describe_setting,
    read_instrument_state,
    state_changes,
)
from ctp10_gui.procedures.preflight import SweepCheck, check_sweep
from ctp10_gui.procedures.readers import DetectorReading, read_detectors, read_wavelengths
from ctp10_gui.procedures.reference import (
    ChannelReference,
    ReferenceRun,
    read_references,
    take_references,
)
from ctp10_gui.procedures.sweep import (
    SweepPlan,
    any_cancelled,
    deadline_s,
    plan_sweep,
    run_scan,
    run_sweep,
)
from ctp10_gui.procedures.traces import (
    FETCH_TIMEOUT_S,
    FetchedTraces,
    TraceRequest,
    fetch_traces,
    save_traces,
    trace_requests,
)

__all__ = [
    "FETCH_TIMEOUT_S",
    "SWEEP_GROUP",
    "ChannelReference",
    "ControlGroup",
    "DetectorReading",
    "FetchedTraces",
    "ReferenceRun",
    "SweepCheck",
    "SweepPlan",
    "TraceRequest",
    "TunableLaserInfo",
    "any_cancelled",
    "apply_setting",
    "check_sweep",
    "deadline_s",
    "describe_setting",
    "detector_group",
    "fetch_traces",
    "laser_model_controls",
    "plan_sweep",
    "read_control",
    "read_controls",
    "read_detectors",
    "read_instrument_state",
    "read_laser_identity",
    "read_references",
    "read_tunable_laser",
    "read_wavelengths",
    "reference_laser_group",
    "run_scan",
    "run_sweep",
    "save_traces",
    "state_changes",
    "take_references",
    "tls_group",
    "trace_requests",
    "write_control",
]
