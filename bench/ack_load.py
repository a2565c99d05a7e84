"""Acknowledgement latency under load: Tandem's Slack endpoint against a bare slack-bolt app that only
acknowledges, sent the same signed events open-loop, at the same rate, in the same run.

Slack gives an app 3 seconds to acknowledge an event; Tandem records each event before acknowledging, so
what matters is how long that acknowledgement waits behind the rest of the core's work. Each app runs in a
child process of its own (so the sender's CPU is not counted against it) against the fake Slack Web API:
`tandem` is the real SlackAdapter on a core over a temporary SQLite file, with a drafter that takes
`--delay` seconds per draft (a slow model); `bare` is an AsyncApp whose message listener does nothing.
The sender schedules event i at start + i / rate whatever the answers do (open loop: a slow answer does
not slow the offered load), each a new customer in the support channel, and times every answer.
Afterwards the Tandem child counts the inbox rows, so a lost event shows as `lost`.

    python bench/ack_load.py                          # 200 events/s for 10 s, 10 s drafts
    python bench/ack_load.py --rate 500 --seconds 10  # past saturation
    python bench/ack_load.py --sweep 200,400,600,800,1000 --senders 2 --seconds 5   # where p99 passes 1 s
    python bench/ack_load.py --seed-db /tmp/tandem-bench-1m.db             # Tandem on a copy of a big log
    python bench/ack_load.py --seed-db /tmp/tandem-bench-1m.db --digests   # and digests built meanwhile

`--seed-db` copies a seeded database (bench/digest_bench.py builds a 1,000,000-message one) under the
Tandem child; with `--digests` it also builds and posts the digest (`post_digest`, what `/tandem digest`
runs) back to back for as long as the load lasts, and reports how many builds ran and how long each took.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp  # noqa: E402

from tests.fakes.slack_api import BOT_USER, TEAM  # noqa: E402
from tests.fakes.slack_client import SECRET, SUPPORT, sign  # noqa: E402


# ---- the two servers (child processes) -------------------------------------------------------------------
async def serve_api() -> None:
    """The fake Slack Web API in a process of its own, so its work is charged to neither app."""
    from tests.fakes.slack_api import FakeSlackAPI

    api = await FakeSlackAPI().start()
    print(api.port, flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    await api.stop()


async def digests(core, built: list[float]) -> None:
    """Build and post the weekly digest back to back (each build in its child process, as `/tandem digest`)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from bot.digest.publish import digest_settings, post_digest

    settings = digest_settings(None)
    now = datetime(2026, 11, 30, tzinfo=ZoneInfo("Europe/Amsterdam"))  # the week digest_bench.py seeds
    while True:
        started = time.perf_counter()
        await post_digest(core, settings, now=now, days=7)
        built.append(time.perf_counter() - started)


async def serve_tandem(delay: float, api_port: int, seed_db: str | None = None, build: bool = False,
                       wait_drafts: bool = False) -> None:
    import logging
    import shutil

    from bench.intake import CountingDrafter
    from bot.drafting.retrieval import KBDrafter
    from bot.kb import load_kb
    from tests.fakes.slack_api import FakeSlackAPI
    from tests.fakes.slack_client import KB, SlackHarness

    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        drafter = CountingDrafter(KBDrafter(load_kb(KB)), delay)
        api = FakeSlackAPI(port=api_port)  # already serving in its own process: the harness only reads base_url
        if seed_db:
            shutil.copyfile(seed_db, Path(tmp) / "t.db")  # the harness's database file
            # the copy leaves ~650 MB of dirty pages; their writeback throttled the core's commits (300 ms
            # stalls) during the load: a database in service is not freshly copied, so flush them first
            os.sync()
        async with SlackHarness(Path(tmp), drafter=drafter, api=api) as slack:
            from tandem.runtime import freeze_start_up_heap

            freeze_start_up_heap()  # as `tandem run` does once everything has started
            count = "SELECT count(*) FROM inbox"
            before = slack.core.store.db.execute(count).fetchone()[0]
            built: list[float] = []
            print(slack.adapter.port, flush=True)
            line = asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
            builder = asyncio.create_task(digests(slack.core, built)) if build else None
            await line
            if builder:
                builder.cancel()
            rows = slack.core.store.db.execute(count).fetchone()[0] - before
            waiting = slack.core.store.count_inbox("pending")  # recorded, not yet applied when the load ended
            started = time.perf_counter()
            while slack.core.store.count_inbox("pending"):  # the backlog the acknowledgements left behind
                await asyncio.sleep(0.05)
            drained = time.perf_counter() - started
            if wait_drafts:  # every customer drafted (a fast drafter: --delay 0)
                while slack.core.store.count_drafts_in_progress():
                    await asyncio.sleep(0.05)
            print(json.dumps({"recorded": rows, "draft_calls": drafter.calls, "peak_drafts": drafter.peak,
                              "undrafted": slack.core.store.count_drafts_in_progress(),
                              "drafted_s": round(time.perf_counter() - started, 2),
                              "digests": [round(b, 2) for b in built], "unapplied_at_end": waiting,
                              "drained_s": round(drained, 2)}), flush=True)


async def serve_bare(api_port: int) -> None:
    from aiohttp import web
    from slack_bolt.async_app import AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    from tests.fakes.slack_api import FakeSlackAPI

    api = FakeSlackAPI(port=api_port)
    app = AsyncApp(signing_secret=SECRET, client=AsyncWebClient(token="xoxb-test", base_url=api.base_url))

    @app.event("message")
    async def _nothing() -> None:  # bolt acknowledges events itself; the listener does no work
        return None

    runner = web.AppRunner(app.web_app(path="/slack/events"))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(site._server.sockets[0].getsockname()[1], flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    print(json.dumps({}), flush=True)
    await runner.cleanup()


# ---- the sender ------------------------------------------------------------------------------------------
def envelope(run: str, i: int) -> str:
    ts = f"1800{i:06d}.000100"
    event = {"type": "message", "channel": SUPPORT, "user": f"ULOAD{i:06d}", "text": "How do I reset my password?",
             "ts": ts, "team": TEAM, "event_ts": ts, "channel_type": "channel"}
    return json.dumps({"token": "legacy", "team_id": TEAM, "api_app_id": "A0TANDEM", "event": event,
                       "type": "event_callback", "event_id": f"Ev{run}{i:07d}", "event_time": int(time.time()),
                       "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True}]})


async def offer(port: int, rate: float, n: int, run: str, part: int = 0, parts: int = 1,
                start_at: float | None = None) -> tuple[list[float], int]:
    """Send n signed events at `rate` per second, open loop; (latencies in seconds, non-2xx count). With
    `parts` senders, this one sends events part, part + parts, ... on the shared schedule from `start_at`
    (wall clock)."""
    latencies: list[float] = []
    failures = 0
    url = f"http://127.0.0.1:{port}/slack/events"
    bodies = [(i, envelope(run, i)) for i in range(part, n, parts)]
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def one(body: str) -> None:
            nonlocal failures
            stamp = str(int(time.time()))
            headers = {"Content-Type": "application/json", "X-Slack-Request-Timestamp": stamp,
                       "X-Slack-Signature": sign(body, stamp)}
            started = time.perf_counter()
            try:
                async with session.post(url, data=body.encode(), headers=headers,
                                        timeout=aiohttp.ClientTimeout(total=30)) as resp:
                    await resp.read()
                    ok = 200 <= resp.status < 300
            except (aiohttp.ClientError, asyncio.TimeoutError):
                ok = False
            latencies.append(time.perf_counter() - started)
            failures += not ok

        start = time.perf_counter() + ((start_at - time.time()) if start_at is not None else 0.0)
        tasks = []
        for i, body in bodies:
            wait = start + i / rate - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            tasks.append(asyncio.create_task(one(body)))
        await asyncio.gather(*tasks)
    return latencies, failures


def offer_part(port: int, rate: float, n: int, run: str, part: int, parts: int, start_at: float):
    return asyncio.run(offer(port, rate, n, run, part, parts, start_at))


def offer_from(senders: int, port: int, rate: float, n: int, run: str) -> tuple[list[float], int]:
    """The load from `senders` processes (one Python sender tops out near 500 events/s)."""
    if senders == 1:
        return asyncio.run(offer(port, rate, n, run))
    import multiprocessing

    start_at = time.time() + 1.0 + 0.2 * senders  # every sender has started by then
    with multiprocessing.get_context("spawn").Pool(senders) as pool:
        parts = pool.starmap(offer_part, [(port, rate, n, run, k, senders, start_at) for k in range(senders)])
    return [x for lat, _ in parts for x in lat], sum(f for _, f in parts)


def pct(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=1000, method="inclusive")[int(p * 10) - 1] * 1000


def run_one(kind: str, rate: float, n: int, delay: float, api_port: int, seed_db: str | None = None,
            build: bool = False, warmup: float = 1.0, senders: int = 1, wait_drafts: bool = False) -> dict:
    extra = (["--seed-db", seed_db] if seed_db and kind == "tandem" else []) + (["--digests"] if build else []) \
        + (["--wait-drafts"] if wait_drafts and kind == "tandem" else [])
    child = subprocess.Popen([sys.executable, __file__, "--serve", kind, "--delay", str(delay),
                              "--api-port", str(api_port), *extra],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    port = int(child.stdout.readline())
    time.sleep(warmup)  # let the child's start-up finish before the clock starts
    latencies, failures = offer_from(senders, port, rate, n, kind[0])
    child.stdin.write("done\n")
    child.stdin.flush()
    counts = json.loads(child.stdout.readline())
    child.stdin.close()
    child.wait(60)
    p50, p95, p99 = (pct(latencies, p) for p in (50, 95, 99))
    return {"kind": kind, "p50": p50, "p95": p95, "p99": p99, "max": max(latencies) * 1000,
            "non2xx": failures, "lost": (n - counts["recorded"]) if "recorded" in counts else None, **counts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200, help="events offered per second")
    parser.add_argument("--seconds", type=float, default=10, help="how long to offer them")
    parser.add_argument("--delay", type=float, default=10.0, help="seconds per draft (the slow model)")
    parser.add_argument("--serve", choices=("tandem", "bare", "api"), help=argparse.SUPPRESS)
    parser.add_argument("--api-port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--seed-db", help="run Tandem on a copy of this database (e.g. bench/digest_bench.py's)")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds between an app listening and the load")
    parser.add_argument("--digests", action="store_true", help="Tandem builds digests back to back meanwhile")
    parser.add_argument("--wait-drafts", action="store_true",
                        help="after the load, wait until every customer is drafted (with --delay 0)")
    parser.add_argument("--repeat", type=int, default=1, help="rounds of bare then Tandem; prints the median ratio")
    parser.add_argument("--senders", type=int, default=1, help="sending processes (past ~500 events/s use 2+)")
    parser.add_argument("--sweep", help="comma-separated rates: p99 of both apps at each (the saturation point)")
    args = parser.parse_args()
    if args.serve:
        serving = {"tandem": lambda: serve_tandem(args.delay, args.api_port, args.seed_db, args.digests,
                                                  args.wait_drafts),
                   "bare": lambda: serve_bare(args.api_port), "api": serve_api}
        asyncio.run(serving[args.serve]())
        return
    api = subprocess.Popen([sys.executable, __file__, "--serve", "api"], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, text=True)
    try:
        api_port = int(api.stdout.readline())
        if args.sweep:
            sweep(args, api_port)
            return
        n = int(args.rate * args.seconds)
        print(f"{n} signed events at {args.rate:g}/s, {args.delay:g} s per draft, {args.senders} sender(s)")
        rounds = []
        for _ in range(args.repeat):  # bare and Tandem alternate, so a busy moment of the machine hits both
            rows = [run_one(kind, args.rate, n, args.delay, api_port, args.seed_db, args.digests, args.warmup,
                            args.senders, args.wait_drafts) for kind in ("bare", "tandem")]
            report(rows, args.digests, args.wait_drafts)
            rounds.append(rows[1]["p99"] / rows[0]["p99"])
    finally:
        api.stdin.close()
        api.wait(30)
    if len(rounds) > 1:
        print(f"\nTandem p99 / bare p99 over {len(rounds)} rounds: {', '.join(f'{r:.1f}x' for r in rounds)}; "
              f"median {statistics.median(rounds):.1f}x")


def report(rows: list[dict], digests: bool, wait_drafts: bool = False) -> None:
    print(f"{'app':<7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8} {'non-2xx':>8} {'lost':>5}")
    for r in rows:
        lost = "" if r["lost"] is None else r["lost"]
        print(f"{r['kind']:<7} {r['p50']:>8.1f} {r['p95']:>8.1f} {r['p99']:>8.1f} {r['max']:>8.1f} "
              f"{r['non2xx']:>8} {lost:>5}")
    bare, tandem = rows
    print(f"Tandem p99 / bare p99 = {tandem['p99'] / bare['p99']:.1f}x; "
          f"draft calls {tandem['draft_calls']}, peak in flight {tandem['peak_drafts']}; "
          f"{tandem['unapplied_at_end']} events recorded but not yet applied when the load ended, "
          f"applied {tandem['drained_s']:.1f} s later", flush=True)
    if wait_drafts:
        print(f"drafted: {tandem['draft_calls']} drafter calls, {tandem['undrafted']} customers left undrafted, "
              f"the last draft {tandem['drafted_s']:.1f} s after the load ended")
    if digests:
        print(f"digests built during the load: {len(tandem['digests'])}, seconds each: {tandem['digests']}")


def sweep(args, api_port: int) -> None:
    """p99 of both apps at each rate; the saturation point is the first rate whose p99 passes 1 second."""
    print(f"{args.seconds:g} s at each rate, {args.delay:g} s per draft, {args.senders} sender(s)")
    print(f"{'rate/s':>7} {'bare p99 ms':>12} {'tandem p99 ms':>14} {'bare non-2xx':>13} {'tandem non-2xx':>15} {'lost':>5}")
    for rate in (float(r) for r in args.sweep.split(",")):
        n = int(rate * args.seconds)
        bare, tandem = (run_one(kind, rate, n, args.delay, api_port, args.seed_db, False, args.warmup, args.senders)
                        for kind in ("bare", "tandem"))
        print(f"{rate:>7g} {bare['p99']:>12.1f} {tandem['p99']:>14.1f} {bare['non2xx']:>13} {tandem['non2xx']:>15} "
              f"{tandem['lost']:>5}", flush=True)


if __name__ == "__main__":
    main()
