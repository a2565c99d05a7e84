"""Intake benchmark: a burst of customers must neither slow the acknowledgements nor open thousands of model
calls at once, and a core killed halfway must lose nothing.

It builds a core on a temporary SQLite file with a deliberately slow drafter (the real KB drafter behind a
sleep, counting concurrent calls), sends N distinct customer messages through `core.receive` as fast as one
sender can, stops the core halfway through the burst (events still pending, drafts in flight), builds a new
core on the same file for the rest, and waits until every message has a draft or a handoff.

    python bench/intake.py                      # 5,000 customers, 16 workers, 200 ms per draft
    python bench/intake.py -n 1000 --workers 4 --delay 0.05 --kill-at 0
    python bench/intake.py --cpu -n 1000        # the core's CPU per new customer and per follow-up
    python bench/intake.py --rate 500 --delay 0 --kill-at 0   # 5,000 customers offered at 500 a second

`--rate R` offers the customers open-loop at R a second (customer i is due i/R seconds after the start and is
sent then, or at once if the sender is behind) instead of as fast as one sender can; the table says how far
behind the schedule the sender fell, which is how long the core kept the loop from recording.

`--cpu` measures the core's own CPU instead: N new customers, then one follow-up from each, every phase
sent, drafted (KB drafter, no sleep) and delivered until the core is idle; the process CPU of the phase
minus the CPU spent inside the drafter (timed in its worker thread), divided by N.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console  # noqa: E402
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn  # noqa: E402

from bot.config import Settings, load_settings  # noqa: E402
from bot.drafting.retrieval import KBDrafter  # noqa: E402
from bot.kb import load_kb  # noqa: E402
from vocab import Actor, Address, Delivery, InboundMessage  # noqa: E402
from tandem.runtime import build_core, freeze_start_up_heap  # noqa: E402

PLATFORM = "bench"
KB = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "kb"


class CountingDrafter:
    """The real KB drafter behind an `asyncio.sleep(delay)`, counting calls in flight and their peak."""

    name = "kb"

    def __init__(self, inner, delay: float):
        self.inner, self.delay = inner, delay
        self.active = self.peak = self.calls = self.completed = 0

    async def draft(self, request):
        self.calls += 1
        self.active += 1
        self.peak = max(self.peak, self.active)
        try:
            await asyncio.sleep(self.delay)
            result = await self.inner.draft(request)
            self.completed += 1
            return result
        finally:
            self.active -= 1


class NullAdapter:
    """Accepts every outbound action at once, so the benchmark measures the core, not a platform."""

    platform = PLATFORM

    def __init__(self):
        self.delivered = 0

    async def start(self, core) -> None: ...

    async def stop(self) -> None: ...

    async def deliver(self, action) -> Delivery:
        self.delivered += 1  # a card updated in place keeps its ref, as on a platform
        return Delivery(ref=getattr(action, "ref", None) or f"r{self.delivered}", channel="agents")


def burst_message(i: int, questions: list[str], follow_up: bool = False) -> InboundMessage:
    tag = "follow-" if follow_up else ""
    return InboundMessage(
        event_id=f"burst-{tag}{i}", address=Address(PLATFORM, channel=f"C{i}"),
        author=Actor(PLATFORM, f"U{i}", f"customer {i}"), text=questions[(i + follow_up) % len(questions)],
        message_id=f"m{tag}{i}",
    )


class TimedDrafter:
    """The KB drafter as the core calls it (its own `draft`, in whatever thread it answers), with the CPU of each
    answer timed where it runs, so it can be taken out of the core's."""

    name = "kb"

    def __init__(self, inner: KBDrafter):
        self.inner, self.cpu = inner, 0.0
        answer = inner.answer

        def timed(*args, **kwargs):
            t0 = time.thread_time()
            try:
                return answer(*args, **kwargs)
            finally:
                self.cpu += time.thread_time() - t0

        inner.answer = timed

    async def draft(self, request):
        return await self.inner.draft(request)


async def cpu_run(n: int, db_path: str, count_sql: bool = False) -> dict:
    """The core's CPU per message: (process CPU of the phase - drafter CPU) / n, for new customers, then
    for one follow-up from each of them. `count_sql`: also count the core connection's statements and
    transactions per message (a trace callback per statement, so the CPU figures of that run read a little high)."""
    settings = load_settings(Settings, env_file=None, tandem_db=db_path, tandem_support_hours="24/7", tandem_kb=KB)
    drafter = TimedDrafter(KBDrafter(load_kb(KB)))
    questions = sample_questions()
    core = build_core(settings, drafter=drafter)
    core.register(NullAdapter())
    await core.start()
    freeze_start_up_heap()  # as `tandem run` does once started: the start-up heap leaves the collector's sight
    out = {"n": n}
    statements: list[str] = []
    if count_sql:
        core.store.db.conn.set_trace_callback(statements.append)
    for phase, follow_up in (("new", False), ("follow_up", True)):
        statements.clear()
        cpu0, wall0, draft0 = time.process_time(), time.perf_counter(), drafter.cpu
        for i in range(n):
            await core.receive(burst_message(i, questions, follow_up))
            await asyncio.sleep(0)
        await settle(core, poll=0.01)
        cpu, draft = time.process_time() - cpu0, drafter.cpu - draft0
        out[phase] = {"core_ms": (cpu - draft) * 1000 / n, "drafter_ms": draft * 1000 / n,
                      "wall_s": time.perf_counter() - wall0}
        if count_sql:  # BEGIN..COMMIT pairs; the inbox row's own insert commits by itself (autocommit)
            out[phase]["statements"] = len(statements) / n
            out[phase]["transactions"] = sum(s.lstrip().upper().startswith("BEGIN") for s in statements) / n
    out["conversations"] = sum(1 for _ in core.store.export_conversations())
    out["lost"] = lost_messages(core.store)
    await core.stop()
    return out


def sample_questions(kb: Path = KB) -> list[str]:
    return [q for article in load_kb(kb) if not article.handoff for q in article.questions]


async def start(settings: Settings, drafter: CountingDrafter):
    core = build_core(settings, drafter=drafter)
    core.register(NullAdapter())
    await core.start()
    freeze_start_up_heap()  # as `tandem run` does once started
    return core


async def settle(core, poll: float = 0.1, timeout: float = 3600.0) -> None:
    """Wait until the inbox is applied and no draft is in progress, then until the outbox is empty."""
    deadline = time.monotonic() + timeout
    while core.store.count_inbox("pending") or core.store.count_drafts_in_progress():  # counts: cheap to poll
        if time.monotonic() > deadline:
            raise TimeoutError("the core did not finish the burst in time")
        await asyncio.sleep(poll)
    await core.wait_idle(timeout=timeout)


def lost_messages(store) -> int:
    """Customer messages with neither a finished draft nor a handoff (must be zero)."""
    lost = 0
    for conv in store.export_conversations():
        finished = [d for d in conv["drafts"] if d["status"] not in ("drafting", "superseded")]
        if not finished and conv["state"] != "waiting_human":
            lost += 1
    return lost


async def heartbeat(lags: list[float], every: float = 0.005) -> None:
    """How late the event loop wakes a sleeper: the longest an adapter's acknowledgement could be held up."""
    while True:
        t0 = time.perf_counter()
        await asyncio.sleep(every)
        lags.append(max(0.0, time.perf_counter() - t0 - every))


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 10) - 1] if len(values) > 1 else values[0]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


async def run(n: int, workers: int, delay: float, kill_at: float, db_path: str, rate: float = 0.0) -> dict:
    settings = load_settings(Settings, env_file=None, tandem_db=db_path, tandem_workers=workers,
                             tandem_support_hours="24/7", tandem_kb=KB)
    drafter = CountingDrafter(KBDrafter(load_kb(KB)), delay)
    questions = sample_questions()
    rss_before = rss_mb()
    core = await start(settings, drafter)
    receive_s, ack_s, lags = [], [], []
    beat = asyncio.create_task(heartbeat(lags))
    killed: dict = {}
    kill_index = int(n * kill_at) if kill_at else -1
    console = Console(stderr=True)
    started = time.perf_counter()
    behind = 0.0  # the most the sender fell behind the offered rate's schedule
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        task = progress.add_task("burst", total=n)
        for i in range(n):
            if i == kill_index:
                killed = {"at": i, "pending_inbox": core.store.count_inbox("pending"),
                          "drafting": len(core.store.drafts_in_progress()), "in_drafter": drafter.active}
                await core.stop()  # the crash: tasks cancelled mid-draft, inbox rows left pending
                core = await start(settings, drafter)
            event = burst_message(i, questions)
            if rate:
                due = started + i / rate
                if (wait := due - time.perf_counter()) > 0:
                    await asyncio.sleep(wait)
                behind = max(behind, time.perf_counter() - due)
            t0 = time.perf_counter()
            await core.receive(event)
            t1 = time.perf_counter()
            await asyncio.sleep(0)  # what an adapter does next: hand the loop back, then acknowledge
            t2 = time.perf_counter()
            receive_s.append(t1 - t0)
            ack_s.append(t2 - t0)
            progress.update(task, advance=1)
        burst_s = time.perf_counter() - started
        drafting = progress.add_task("drafts", total=n)
        waiter = asyncio.create_task(settle(core))
        while not waiter.done():
            progress.update(drafting, completed=drafter.completed)
            await asyncio.sleep(0.2)
        await waiter
    total_s = time.perf_counter() - started
    beat.cancel()
    await core.stop()
    store = core.store
    conversations = sum(1 for _ in store.export_conversations())
    return {
        "n": n, "workers": workers, "delay": delay, "burst_s": burst_s, "total_s": total_s, "rate": rate,
        "behind": behind,
        "receive": receive_s, "ack": ack_s, "lag": lags, "peak": drafter.peak, "calls": drafter.calls,
        "rss_before": rss_before, "rss_peak": rss_mb(), "killed": killed, "conversations": conversations,
        "pending_inbox": store.count_inbox("pending"), "inbox_errors": store.count_inbox("error"),
        "lost": lost_messages(store), "db_mb": os.path.getsize(db_path) / 2**20,
    }


def table(r: dict) -> str:
    us = lambda v: f"{v * 1e6:,.0f} µs"  # noqa: E731
    rec, ack, lag = r["receive"], r["ack"], r["lag"]
    rows = [
        ("customers in the burst", f"{r['n']:,}"),
        ("drafter", f"KB drafter + {r['delay'] * 1000:.0f} ms sleep, TANDEM_WORKERS={r['workers']}"),
        ("`core.receive` p50 / p99 / max", f"{us(pct(rec, 50))} / {us(pct(rec, 99))} / {us(max(rec))}"),
        ("inbox row cost (mean receive)", us(statistics.fmean(rec))),
        ("time to ack (receive + loop turn) p50 / p99 / max",
         f"{us(pct(ack, 50))} / {us(pct(ack, 99))} / {us(max(ack))}"),
        ("event-loop lag (heartbeat) p50 / p99 / max", f"{us(pct(lag, 50))} / {us(pct(lag, 99))} / {us(max(lag))}"),
        ("whole burst recorded in", f"{r['burst_s']:.2f} s"),
        *([("offered at", f"{r['rate']:,.0f} a second; the sender fell at most {r['behind'] * 1000:.1f} ms behind")]
          if r["rate"] else []),
        ("peak concurrent drafter calls", f"{r['peak']} (limit {r['workers']})"),
        ("drafter calls (incl. re-runs after the kill)", f"{r['calls']:,}"),
        ("all drafts done after", f"{r['total_s']:.1f} s (floor n×delay/workers = "
                                  f"{r['n'] * r['delay'] / r['workers']:.1f} s)"),
        ("peak RSS", f"{r['rss_peak']:.0f} MB (before the burst {r['rss_before']:.0f} MB)"),
        ("SQLite file", f"{r['db_mb']:.1f} MB"),
    ]
    if r["killed"]:
        k = r["killed"]
        rows.append(("killed at message", f"{k['at']:,}: {k['pending_inbox']:,} inbox events pending, "
                                          f"{k['drafting']:,} drafts in progress ({k['in_drafter']} in the drafter)"))
    rows.append(("conversations / lost messages / inbox pending / inbox errors",
                 f"{r['conversations']:,} / {r['lost']} / {r['pending_inbox']} / {r['inbox_errors']}"))
    lines = ["| measure | value |", "|---|---|"] + [f"| {a} | {b} |" for a, b in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=5000, help="customers in the burst (default 5000)")
    parser.add_argument("--workers", type=int, default=16, help="TANDEM_WORKERS (default 16)")
    parser.add_argument("--delay", type=float, default=0.2, help="seconds each draft takes (default 0.2)")
    parser.add_argument("--kill-at", type=float, default=0.5,
                        help="fraction of the burst after which the core is killed and rebuilt (0: never)")
    parser.add_argument("--db", default=None, help="SQLite file (default: a temporary one)")
    parser.add_argument("--rate", type=float, default=0.0,
                        help="offer the customers at this many a second, open loop (default 0: as fast as possible)")
    parser.add_argument("--cpu", action="store_true", help="measure the core's CPU per new customer and follow-up")
    parser.add_argument("--count-sql", action="store_true",
                        help="with --cpu: statements and transactions per message (CPU figures then read high)")
    args = parser.parse_args()
    if args.cpu:
        with tempfile.TemporaryDirectory() as tmp:
            r = asyncio.run(cpu_run(args.n, args.db or f"{tmp}/bench.db", args.count_sql))
        for phase, target in (("new", 2.0), ("follow_up", 1.0)):
            p = r[phase]
            print(f"{phase:9s}: core CPU {p['core_ms']:.2f} ms/message (target {target:.0f} ms), drafter "
                  f"{p['drafter_ms']:.2f} ms/message, {r['n']:,} in {p['wall_s']:.1f} s")
            if "statements" in p:
                print(f"{'':11s}{p['statements']:.1f} SQL statements and {p['transactions']:.1f} transactions a message")
        print(f"conversations {r['conversations']:,}, lost {r['lost']}")
        sys.exit(0 if r["lost"] == 0 else 1)
    with tempfile.TemporaryDirectory() as tmp:
        result = asyncio.run(run(args.n, args.workers, args.delay, args.kill_at, args.db or f"{tmp}/bench.db",
                                 args.rate))
    print(table(result))
    ok = result["lost"] == 0 and result["peak"] <= args.workers and result["pending_inbox"] == 0
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
