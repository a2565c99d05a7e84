"""Store-call benchmark: why the store's calls run on the event loop instead of in a thread.

The core calls the store synchronously on the event loop (see bot/ports.py). That is right only while
each call is much cheaper than handing it to a thread and back. This script runs a burst of customers
through a real core on a temporary SQLite file (the offline KB drafter, no sleep), times every store call
the core makes, and times the hop to a worker thread (`asyncio.to_thread`) on the same machine:

    python bench/store_calls.py            # 2,000 customers, each answered by an agent's approval
    python bench/store_calls.py -n 500

It prints, per store method, the number of calls and their p50 / p99 / max in microseconds, then the
same for all calls together and for a bare `to_thread` round trip.
"""
from __future__ import annotations

import argparse
import asyncio
import functools
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console  # noqa: E402
from rich.progress import Progress  # noqa: E402
from rich.table import Table  # noqa: E402

from bench.intake import KB, NullAdapter, burst_message, sample_questions  # noqa: E402
from bot.config import Settings, load_settings  # noqa: E402
from tandem.runtime import build_core  # noqa: E402
from vocab import Actor, Role  # noqa: E402

LEAD = Actor("bench", "U-lead", "lead", Role.LEAD)


def instrument(store) -> dict[str, list[float]]:
    """Wrap every public method of this store instance with a timer (this instance only)."""
    timings: dict[str, list[float]] = defaultdict(list)
    for name in dir(store):
        if name.startswith("_") or name in ("atomic", "reader", "clock", "now", "db", "path"):
            continue
        method = getattr(store, name)
        if not callable(method):
            continue

        def timed(*args, _method=method, _name=name, **kwargs):
            started = time.perf_counter()
            try:
                return _method(*args, **kwargs)
            finally:
                timings[_name].append((time.perf_counter() - started) * 1e6)

        setattr(store, name, functools.wraps(method)(timed))
    return timings


def pct(values: list[float], q: float) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


async def hop_cost(rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        started = time.perf_counter()
        await asyncio.to_thread(lambda: None)
        out.append((time.perf_counter() - started) * 1e6)
    return out


async def run(n: int, db_path: str) -> tuple[dict[str, list[float]], list[float]]:
    settings = load_settings(Settings, env_file=None, tandem_db=db_path, tandem_support_hours="24/7", tandem_kb=KB)
    core = build_core(settings)
    core.register(NullAdapter())
    timings = instrument(core.store)
    questions = sample_questions()
    await core.start()
    with Progress(transient=True) as progress:
        task = progress.add_task("customers", total=n)
        for i in range(n):
            await core.receive(burst_message(i, questions))
            progress.advance(task)
        await core.wait_idle(timeout=600)
        task = progress.add_task("approvals", total=n)
        for row in core.store.conversations_needing_agent():
            if row["draft_id"]:
                await core.press(LEAD, "approve", row["draft_id"])
            progress.advance(task)
        await core.wait_idle(timeout=600)
    await core.stop()
    return timings, await hop_cost(2000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000, help="customers (default 2000)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        timings, hops = asyncio.run(run(args.n, str(Path(tmp) / "bench.db")))
    table = Table(title=f"store calls for {args.n:,} customers (µs)")
    for column in ("method", "calls", "p50", "p99", "max"):
        table.add_column(column, justify="left" if column == "method" else "right")
    everything = [t for values in timings.values() for t in values]
    for name, values in sorted(timings.items(), key=lambda kv: -sum(kv[1])):
        table.add_row(name, f"{len(values):,}", f"{pct(values, 50):.0f}", f"{pct(values, 99):.0f}",
                      f"{max(values):.0f}")
    table.add_row("all store calls", f"{len(everything):,}", f"{pct(everything, 50):.0f}",
                  f"{pct(everything, 99):.0f}", f"{max(everything):.0f}", style="bold")
    table.add_row("asyncio.to_thread hop", f"{len(hops):,}", f"{pct(hops, 50):.0f}", f"{pct(hops, 99):.0f}",
                  f"{max(hops):.0f}", style="bold")
    Console().print(table)


if __name__ == "__main__":
    main()
