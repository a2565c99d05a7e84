"""Slow and stalled unauthenticated clients against the Slack HTTP server: what they cost in memory, whether
the memory comes back when they leave, and whether a real signed request is still answered meanwhile.

The server (the real SlackAdapter on a core over a temporary SQLite file, as in the tests) runs in this
process; the attackers run in a child process so their own buffers are not counted. Each round opens N
connections of one kind, holds them, measures this process's RSS, sends one real signed event and times its
answer, then closes them and measures again. Kinds: `slow-headers` (headers never finished),
`big-declared` (Content-Length 1,000,000 and 900 KB of it, then a stall), `under-limit` (Content-Length
500,000 and 450 KB of it, then a stall: the most a body may be).

    python bench/slow_clients.py                 # 200 connections, 3 rounds of each kind
    python bench/slow_clients.py -n 500 --rounds 1
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fakes.slack_client import SlackHarness  # noqa: E402

KINDS = {"slow-headers": (None, 0), "big-declared": (1_000_000, 900_000), "under-limit": (500_000, 450_000)}


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def attack(port: int, n: int, kind: str) -> None:
    """Child process: open n connections of `kind`, say 'ready', hold them until stdin closes."""
    declared, sent = KINDS[kind]
    conns = []

    async def one() -> None:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            if declared is None:
                writer.write(b"POST /slack/events HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            else:
                writer.write(f"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                             f"Content-Length: {declared}\r\n\r\n".encode() + b"x" * sent)
            conns.append(writer)
            await asyncio.wait_for(writer.drain(), 3)
        except (OSError, asyncio.TimeoutError):
            pass  # refused or closed by the server: that is the point

    await asyncio.gather(*(one() for _ in range(n)))
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for w in conns:
        w.close()


async def bench(n: int, rounds: int, kinds: list[str]) -> None:
    logging.disable(logging.ERROR)  # every refused connection logs a warning; the table is the output here
    with tempfile.TemporaryDirectory() as tmp:
        async with SlackHarness(Path(tmp)) as slack:
            port = slack.adapter.port
            gc.collect()
            print(f"server RSS at start: {rss_mb():.0f} MB; {n} connections a round")
            print(f"{'kind':<13} {'round':>5} {'before':>8} {'during':>8} {'after':>8} {'real request':>13}")
            for kind in kinds:
                for r in range(1, rounds + 1):
                    gc.collect()
                    before = rss_mb()
                    child = subprocess.Popen([sys.executable, __file__, "--attack", str(port), "-n", str(n),
                                              "--kind", kind], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                             text=True)
                    await asyncio.get_running_loop().run_in_executor(None, child.stdout.readline)
                    await asyncio.sleep(1.0)
                    during = rss_mb()
                    started = time.perf_counter()
                    await slack.say(f"real question during {kind} round {r}")  # asserts 200
                    answered = time.perf_counter() - started
                    child.stdin.close()
                    child.wait(30)
                    await asyncio.sleep(1.0)
                    gc.collect()
                    after = rss_mb()
                    print(f"{kind:<13} {r:>5} {before:>6.0f}MB {during:>6.0f}MB {after:>6.0f}MB {answered * 1000:>10.0f} ms")
            await slack.settle()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200, help="connections a round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated, from: " + ", ".join(KINDS))
    parser.add_argument("--attack", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--kind", default="big-declared", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.attack:
        asyncio.run(attack(args.attack, args.n, args.kind))
    else:
        asyncio.run(bench(args.n, args.rounds, args.kinds.split(",")))


if __name__ == "__main__":
    main()
