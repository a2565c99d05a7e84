"""What `GET /metrics` answers, in the Prometheus text format: one registry per core (so several cores in one
process, as in the tests, never share a series).

Two kinds of numbers. What the database holds (backlogs, failures, drafts by status, handoffs by reason, the
agents' queue) is read from the store at each scrape by a custom collector, so it is exact whatever restarted
in between. What only the running process sees (how long drafting and acknowledging took, whether each
platform is connected) is observed where it happens: `Core._draft` times the drafter, the adapters time
recording an inbound event before they acknowledge it.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.ports import CoreAPI, platform_health

log = logging.getLogger(__name__)

# generate_latest writes the classic text format, which every Prometheus version reads under this type
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# drafting: the KB drafter takes milliseconds, an LLM seconds, the timeout is TANDEM_LLM_TIMEOUT (+5 s)
DRAFT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0)
# acknowledging: Slack allows 3 s, so the buckets are fine-grained below it
ACK_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0)


class StoreCollector(Collector):
    """The database's numbers and each platform's connection, read when Prometheus asks."""

    def __init__(self, core: CoreAPI) -> None:
        self.core = core

    def collect(self) -> Iterator[Metric]:
        snap = self.core.store.watch_snapshot()
        yield _gauge("tandem_inbox_backlog", "Inbound events recorded and not yet processed.", snap.inbox_pending)
        yield _labelled(GaugeMetricFamily, "tandem_outbox_backlog",
                        "Outbound actions waiting to be delivered, by platform.", "platform",
                        {**{name: 0 for name in self.core.adapters}, **snap.outbox_pending})
        yield _labelled(GaugeMetricFamily, "tandem_outbox_failed",
                        "Outbound actions given up on after their retries, by platform.", "platform",
                        {**{name: 0 for name in self.core.adapters}, **snap.outbox_failed})
        yield _labelled(GaugeMetricFamily, "tandem_drafts", "Drafts by status (the decision taken on each).",
                        "status", snap.drafts)
        yield _labelled(CounterMetricFamily, "tandem_handoffs", "Conversations handed to a person, by reason.",
                        "reason", snap.handoffs)
        yield _gauge("tandem_conversations_waiting",
                     "Conversations waiting for a person (handed off, taken over, or a draft to review).", snap.waiting)
        yield _gauge("tandem_oldest_wait_seconds", "How long the longest-waiting of them has waited.",
                     snap.oldest_wait_s)
        connected = GaugeMetricFamily("tandem_platform_connected", "1 while the platform is connected, else 0.",
                                      labels=["platform"])
        for name, adapter in sorted(self.core.adapters.items()):
            connected.add_metric([name], 1.0 if platform_health(adapter).connected else 0.0)
        yield connected


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


def _labelled(kind, name: str, doc: str, label: str, values: dict[str, int]) -> Metric:
    family = kind(name, doc, labels=[label])
    for key, value in sorted(values.items()):
        family.add_metric([key], value)
    return family


class Metrics:
    """The core's registry: the collector above plus the two latency histograms."""

    def __init__(self, core: CoreAPI) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(StoreCollector(core))
        self.draft_seconds = Histogram("tandem_draft_seconds", "Time the drafter took for one draft.",
                                       buckets=DRAFT_BUCKETS, registry=self.registry)
        self.ack_seconds = Histogram("tandem_ack_seconds",
                                     "Time from an inbound event reaching the adapter to its being recorded, "
                                     "after which the platform is acknowledged, by platform.",
                                     ["platform"], buckets=ACK_BUCKETS, registry=self.registry)

    def observe_draft(self, seconds: float) -> None:
        self.draft_seconds.observe(seconds)

    def observe_ack(self, platform: str, seconds: float) -> None:
        self.ack_seconds.labels(platform).observe(seconds)

    def render(self) -> bytes:
        """The text exposition of every metric, for `GET /metrics`."""
        return generate_latest(self.registry)
