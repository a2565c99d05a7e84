"""Memory of a live `tandem run` with Slack and Discord both configured: its idle RSS once both platforms are
connected, and how much it grows per 1,000 open conversations.

The fake Slack Web API and the fake Discord (REST + gateway) run in this process on 127.0.0.1; `tandem run`
is started as a subprocess with its settings pointing at them (Slack over HTTP on a free port, Discord
through DISCORD_API_URL / DISCORD_GATEWAY_URL) and a temporary SQLite file. When Slack says it is listening
and the fake Discord has seen IDENTIFY, the bench waits `--settle` seconds and reads VmRSS from
/proc/PID/status. Then it sends `-n` new customers (one message each, a different person each) over the
Discord gateway, waits until every one is a conversation with its card posted, and reads VmRSS again. The
first customer is sent and measured on its own: what only a first message loads is a one-time cost, not growth per conversation.

    python bench/live_rss.py             # idle RSS, then 1,000 new customers
    python bench/live_rss.py -n 0        # idle RSS only
"""
from __future__ import annotations

import argparse
import asyncio
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.discord_harness import TOKEN  # noqa: E402
from tests.fakes import discord_payloads as P  # noqa: E402
from tests.fakes.discord_fake import FakeDiscord  # noqa: E402
from tests.fakes.slack_api import FakeSlackAPI  # noqa: E402

KB = ROOT / "tests" / "fixtures" / "kb"


def vm(pid: int, field: str = "VmRSS") -> float:
    """A /proc/PID/status memory field in MB."""
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(rf"^{field}:\s+(\d+) kB", text, re.M).group(1)) / 1024


def environment(slack: FakeSlackAPI, discord: FakeDiscord, db: Path) -> dict:
    w = discord.world
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TANDEM_", "OPENAI_", "SLACK_", "DISCORD_"))}
    env.update(PYTHONPATH=str(ROOT), TANDEM_DB=str(db), TANDEM_KB=str(KB), TANDEM_SUPPORT_HOURS="24/7",
               TANDEM_HTTP_PORT="0", SLACK_BOT_TOKEN="xoxb-test", SLACK_SIGNING_SECRET="secret",
               SLACK_AGENT_CHANNEL="CAGENTS1", SLACK_AGENT_USERS="UAGENT1", SLACK_SUPPORT_CHANNELS="CSUPPORT1",
               SLACK_API_URL=slack.base_url, DISCORD_TOKEN=TOKEN,
               DISCORD_SUPPORT_CHANNELS=f"{w.support_channel},{w.forum_channel}",
               DISCORD_AGENT_CHANNEL=w.agent_channel, DISCORD_AGENT_ROLE=w.agent_role,
               DISCORD_LEAD_ROLE=w.lead_role, DISCORD_GUILD_ID=w.guild_id, DISCORD_API_URL=discord.api_url,
               DISCORD_GATEWAY_URL=discord.gateway_url)
    return env


async def wait_for_line(stream: asyncio.StreamReader, needle: str, seen: list[str], timeout: float) -> None:
    async def read() -> None:
        while True:
            line = (await stream.readline()).decode(errors="replace")
            if not line:
                raise RuntimeError("tandem run exited:\n" + "".join(seen[-20:]))
            seen.append(line)
            if needle in line:
                return
    await asyncio.wait_for(read(), timeout)


def conversations(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as con:
            return con.execute("SELECT count(*) FROM conversations").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


async def drain(stream: asyncio.StreamReader, seen: list[str]) -> None:
    while line := await stream.readline():
        seen.append(line.decode(errors="replace"))
        del seen[:-200]


async def open_customers(discord: FakeDiscord, db: Path, first: int, count: int, rate: float) -> int:
    """Send `count` new customers (person ids from `first`) and wait until each has a conversation and a card;
    returns the conversations now open."""
    w = discord.world
    for i in range(first, first + count):
        person = P.Person(id=str(1_150_000_000_000_000_000 + i), name=f"customer{i}")
        await discord.dispatch("MESSAGE_CREATE", w.customer_message(
            w.support_channel, "How do I reset my password?", person=person))
        await asyncio.sleep(1 / rate)
    deadline, total = time.monotonic() + 600, first + count
    while conversations(db) < total or len(discord.posted(w.agent_channel)) < total:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {conversations(db)} conversations / {len(discord.posted(w.agent_channel))} cards")
        await asyncio.sleep(0.5)
    return conversations(db)


async def run(n: int, settle: float, rate: float) -> dict:
    slack = await FakeSlackAPI().start()
    discord = await FakeDiscord().start()
    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "tandem.db"
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tandem.cli", "run", stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, env=environment(slack, discord, db), cwd=tmp)
        seen: list[str] = []
        started = time.perf_counter()
        try:
            await wait_for_line(proc.stderr, "slack: listening", seen, 120)
            await discord.wait_ready(timeout=120)
            out["connected_s"] = time.perf_counter() - started
            reader = asyncio.create_task(drain(proc.stderr, seen))
            await asyncio.sleep(settle)
            out["idle_rss"], out["idle_hwm"] = vm(proc.pid), vm(proc.pid, "VmHWM")
            if n:
                # The first customer loads what only a message needs (the language identifier's model, the
                # card's templates): a one-time cost, kept apart from the per-conversation growth.
                await open_customers(discord, db, 0, 1, rate)
                await asyncio.sleep(settle)
                out["first_rss"] = vm(proc.pid)
                out["open"] = await open_customers(discord, db, 1, n, rate)
                await asyncio.sleep(settle)
                out["after_rss"], out["after_hwm"] = vm(proc.pid), vm(proc.pid, "VmHWM")
            reader.cancel()
        finally:
            proc.terminate()
            await proc.wait()
            await discord.stop()
            await slack.stop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1000, help="new customers to open (default 1000; 0: idle only)")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds to wait before reading RSS (default 5)")
    parser.add_argument("--rate", type=float, default=100.0, help="customers per second offered (default 100)")
    args = parser.parse_args()
    r = asyncio.run(run(args.n, args.settle, args.rate))
    print(f"connected in {r['connected_s']:.1f} s; idle RSS {r['idle_rss']:.0f} MB (peak {r['idle_hwm']:.0f} MB)")
    if "after_rss" in r:
        growth = (r["after_rss"] - r["first_rss"]) * 1000 / max(r["open"] - 1, 1)
        print(f"after the first customer: RSS {r['first_rss']:.0f} MB (one-time: what a first message loads)")
        print(f"after {r['open']} open conversations: RSS {r['after_rss']:.0f} MB (peak {r['after_hwm']:.0f} MB); "
              f"growth {growth:.1f} MB per 1,000 open conversations after the first")


if __name__ == "__main__":
    main()
