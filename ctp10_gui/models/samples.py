"""Snapshot batches: the worker collects snapshots and hands them to the GUI thread in batches.

One queued Qt signal per sample costs 11–20 µs of GUI CPU; one batch per 10–20 ms costs 0.6 µs
per sample (shared/performance-notes.md). All times are monotonic or wall-clock seconds, all
values dBm. Plain Python + numpy: no Qt.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ctp10_gui.hardware.power import PowerSnapshot


@dataclass(frozen=True, eq=False)  # eq=False: == on numpy arrays has no single truth value
class SnapshotBatch:
    """Several snapshots of one module's channels as numpy arrays (treat the arrays as read-only).

    t_mono, t_wall: (N,) float64 s; values_dbm: (N, C) float64 dBm, NaN where status != OK;
    status: (N, C) int8 ChannelStatus.
    """

    module: int
    channels: tuple[int, ...]
    t_mono: np.ndarray
    t_wall: np.ndarray
    values_dbm: np.ndarray
    status: np.ndarray

    def __post_init__(self) -> None:
        """Coerce dtypes and check that the shapes agree (ValueError otherwise)."""
        # Frozen dataclass: normalising the arrays needs object.__setattr__.
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        object.__setattr__(self, "t_mono", np.asarray(self.t_mono, dtype=np.float64))
        object.__setattr__(self, "t_wall", np.asarray(self.t_wall, dtype=np.float64))
        object.__setattr__(self, "values_dbm", np.asarray(self.values_dbm, dtype=np.float64))
        object.__setattr__(self, "status", np.asarray(self.status, dtype=np.int8))
        n, c = len(self.t_mono), len(self.channels)
        if self.t_mono.shape != (n,) or self.t_wall.shape != (n,):
            raise ValueError(
                f"t_mono and t_wall must both have shape ({n},), got "
                f"{self.t_mono.shape} and {self.t_wall.shape}"
            )
        if self.values_dbm.shape != (n, c) or self.status.shape != (n, c):
            raise ValueError(
                f"values_dbm and status must have shape ({n}, {c}) for channels "
                f"{self.channels}, got {self.values_dbm.shape} and {self.status.shape}"
            )

    def __len__(self) -> int:
        """Return the number of snapshots N (≥ 0)."""
        return len(self.t_mono)

    @classmethod
    def empty(cls, module: int, channels: Sequence[int]) -> SnapshotBatch:
        """Return a batch of zero snapshots for the given module (1–20) and channels (1–6)."""
        c = len(channels)
        return cls(
            module,
            tuple(channels),
            np.empty(0),
            np.empty(0),
            np.empty((0, c)),
            np.empty((0, c), dtype=np.int8),
        )

    @classmethod
    def from_snapshots(cls, snaps: Sequence[PowerSnapshot]) -> SnapshotBatch:
        """Stack ≥ 1 snapshots of the same module and channels into one batch (ValueError else)."""
        if not snaps:
            raise ValueError("cannot build a batch from zero snapshots (module/channels unknown)")
        first = snaps[0]
        module, channels = first.module, tuple(first.channels)
        for s in snaps:
            if s.module != module or tuple(s.channels) != channels:
                raise ValueError(
                    f"snapshots mix module/channels: {module}/{channels} and "
                    f"{s.module}/{tuple(s.channels)}"
                )
        n = len(snaps)
        return cls(
            module,
            channels,
            np.fromiter((s.t_mono for s in snaps), dtype=np.float64, count=n),
            np.fromiter((s.t_wall for s in snaps), dtype=np.float64, count=n),
            np.stack([np.asarray(s.values_dbm, dtype=np.float64) for s in snaps]),
            np.stack([np.asarray(s.status, dtype=np.int8) for s in snaps]),
        )

    @classmethod
    def concat(cls, batches: Sequence[SnapshotBatch]) -> SnapshotBatch:
        """Join ≥ 1 batches of the same module and channels in the given order (ValueError else)."""
        if not batches:
            raise ValueError("cannot concatenate zero batches (module/channels unknown)")
        module, channels = batches[0].module, batches[0].channels
        for b in batches:
            if b.module != module or b.channels != channels:
                raise ValueError(
                    f"batches mix module/channels: {module}/{channels} and {b.module}/{b.channels}"
                )
        if len(batches) == 1:
            return batches[0]
        return cls(
            module,
            channels,
            np.concatenate([b.t_mono for b in batches]),
            np.concatenate([b.t_wall for b in batches]),
            np.concatenate([b.values_dbm for b in batches]),
            np.concatenate([b.status for b in batches]),
        )


class SnapshotBatcher:
    """Collect snapshots in the acquisition worker and release them as batches.

    One queued Qt signal per sample costs 11–20 µs of GUI CPU; one batch per 10–20 ms costs
    0.6 µs per sample. Rows are kept as plain Python lists and turned into numpy arrays once per
    batch: per-sample arrays would cost more than the whole batch conversion. Usage in the
    worker loop::

        flushed = batcher.add_row(m, chans, t_mono, t_wall, values, status)  # or add(snap)
        if flushed: emit(flushed)            # a batch of the previous layout, if it changed
        if batcher.due(clock(), next_snapshot_at): emit(batcher.take())
    """

    def __init__(self, max_age_s: float = 0.02, max_samples: int = 256) -> None:
        """Release a batch once its oldest snapshot is max_age_s (> 0 s) old or at max_samples."""
        if not max_age_s > 0:
            raise ValueError(f"max_age_s must be > 0 s, got {max_age_s}")
        if max_samples < 1:
            raise ValueError(f"max_samples must be ≥ 1, got {max_samples}")
        self.max_age_s = float(max_age_s)
        self.max_samples = int(max_samples)
        self._module = 0
        self._channels: tuple[int, ...] = ()
        self._t_mono: list[float] = []
        self._t_wall: list[float] = []
        # Row after row, flat: np.array() of a flat list is twice as fast as of nested lists.
        self._values: list[float] = []
        self._status: list[int] = []

    def __len__(self) -> int:
        """Return the number of snapshots waiting (≥ 0)."""
        return len(self._t_mono)

    @property
    def deadline(self) -> float | None:
        """Return the monotonic time (s) by which the pending batch must go, None if empty."""
        if not self._t_mono:
            return None
        return self._t_mono[0] + self.max_age_s

    def add(self, snap: PowerSnapshot) -> SnapshotBatch | None:
        """Queue one snapshot; return the pending batch first if module or channels changed."""
        return self.add_row(
            snap.module,
            tuple(snap.channels),
            snap.t_mono,
            snap.t_wall,
            np.asarray(snap.values_dbm, dtype=np.float64).tolist(),
            np.asarray(snap.status, dtype=np.int8).tolist(),
        )

    def add_row(
        self,
        module: int,
        channels: tuple[int, ...],
        t_mono: float,
        t_wall: float,
        values_dbm: Sequence[float],
        status: Sequence[int],
    ) -> SnapshotBatch | None:
        """Queue one snapshot as plain values (s, s, dBm, ChannelStatus); flush a changed layout."""
        if len(values_dbm) != len(channels) or len(status) != len(channels):
            # Checked here because the flat lists below would silently shift the columns.
            raise ValueError(
                f"{len(values_dbm)} values and {len(status)} statuses for channels {channels}"
            )
        flushed = None
        if self._t_mono and (
            module != self._module
            or (channels is not self._channels and channels != self._channels)
        ):
            # A batch holds one layout; the old samples must not be dropped on a switch.
            flushed = self.take()
        if not self._t_mono:
            self._module, self._channels = module, channels
        self._t_mono.append(t_mono)
        self._t_wall.append(t_wall)
        self._values.extend(values_dbm)
        self._status.extend(status)
        return flushed

    def due(self, now: float, next_sample_at: float | None = None) -> bool:
        """Return True if the batch must go now (monotonic s), or before next_sample_at (s)."""
        if not self._t_mono:
            return False
        deadline = self._t_mono[0] + self.max_age_s
        if len(self._t_mono) >= self.max_samples or now >= deadline:
            return True
        # At slow poll rates waiting for the next sample would overshoot the deadline: send now.
        return next_sample_at is not None and next_sample_at > deadline

    def take(self) -> SnapshotBatch | None:
        """Return and forget the pending snapshots as one batch, None if there are none."""
        if not self._t_mono:
            return None
        shape = (len(self._t_mono), len(self._channels))
        batch = SnapshotBatch(
            self._module,
            self._channels,
            np.array(self._t_mono, dtype=np.float64),
            np.array(self._t_wall, dtype=np.float64),
            np.array(self._values, dtype=np.float64).reshape(shape),
            np.array(self._status, dtype=np.int8).reshape(shape),
        )
        self._t_mono, self._t_wall, self._values, self._status = [], [], [], []
        return batch
