"""GET /metrics: the link and the stream server in the Prometheus text format."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Enum, Gauge, generate_latest

from ctp10_gui.models.connection import LinkHealth, LinkState


class ShareMetrics:
    """The gauges one scrape reads; set from the link's health and the server's counters."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.link_state = Enum("ctp10_link_state", "State of the link to the CTP10",
                               states=[s.label for s in LinkState], registry=r)
        self.snapshot_rate = Gauge("ctp10_snapshot_rate_hz",
                                   "Snapshots per second the link achieves", registry=r)
        self.requested_rate = Gauge("ctp10_snapshot_rate_requested_hz",
                                    "Snapshots per second asked for (0: live off)", registry=r)
        self.latency = Gauge("ctp10_reply_latency_seconds", "SCPI reply latency",
                             ["quantile"], registry=r)
        self.reconnects = Gauge("ctp10_reconnects", "Reconnects since the app started",
                                registry=r)
        self.link_errors = Gauge("ctp10_link_errors", "Link errors since the app started",
                                 registry=r)
        self.clients = Gauge("ctp10_stream_clients", "Connected stream clients", ["path"],
                             registry=r)
        self.sent = Gauge("ctp10_stream_frames_sent", "Frames sent to the clients connected now",
                          registry=r)
        self.dropped = Gauge("ctp10_stream_frames_dropped",
                             "Frames dropped for slow clients since the server started",
                             registry=r)
        self.cpu = Gauge("ctp10_stream_cpu_seconds",
                         "CPU seconds the app's GUI thread spent building and writing frames",
                         registry=r)

    def render(self, state: LinkState, health: LinkHealth, clients_by_path: dict[str, int],
               sent: int, dropped: int, cpu_s: float) -> bytes:
        """Return the exposition text for the given readings."""
        self.link_state.state(state.label)
        self.snapshot_rate.set(health.achieved_hz)
        self.requested_rate.set(health.requested_hz)
        for quantile, value in (("0.5", health.latency_p50_s), ("0.95", health.latency_p95_s)):
            self.latency.labels(quantile).set(value if value is not None else float("nan"))
        self.reconnects.set(health.reconnects)
        self.link_errors.set(health.errors)
        self.clients.clear()
        for path, count in clients_by_path.items():
            self.clients.labels(path).set(count)
        self.sent.set(sent)
        self.dropped.set(dropped)
        self.cpu.set(cpu_s)
        return generate_latest(self.registry)
