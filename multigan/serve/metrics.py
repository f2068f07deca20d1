"""The server's Prometheus metrics (``GET /metrics``), in a registry of their own so that
several servers in one process (tests) do not share counts."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class ServerMetrics:
    """Counters and histograms by model (``model`` is "" for a name no model has, so hostile
    paths cannot grow the label set) and by endpoint and status."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("multigan_requests", "HTTP requests answered", ["model", "endpoint", "status"], registry=r)
        self.errors = Counter("multigan_request_errors", "requests answered with a 4xx or 5xx status",
                              ["model", "endpoint", "status"], registry=r)
        self.latency = Histogram("multigan_request_latency_seconds", "time from a request's arrival to its answer",
                                 ["model", "endpoint"], buckets=LATENCY_BUCKETS, registry=r)
        self.batch_size = Histogram("multigan_batch_size_samples", "samples in one forward pass",
                                    ["model"], buckets=BATCH_BUCKETS, registry=r)
        self.queue_depth = Gauge("multigan_queue_depth", "requests waiting for a forward pass", ["model"], registry=r)
        self.samples = Counter("multigan_samples_generated", "samples generated", ["model"], registry=r)

    def observe(self, model: str, endpoint: str, status: int, seconds: float) -> None:
        """Count one answered request."""
        self.requests.labels(model, endpoint, str(status)).inc()
        if status >= 400:
            self.errors.labels(model, endpoint, str(status)).inc()
        self.latency.labels(model, endpoint).observe(seconds)

    def render(self) -> bytes:
        """The metrics in Prometheus' text format."""
        return generate_latest(self.registry)
