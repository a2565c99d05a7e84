"""How long the weekly digest takes to build over a log of 1,000,000 messages.

Builds (once, cached at --db) a database through the real migrations: ~143,000 conversations of 7 messages
spread over the last --weeks weeks (default 8: ~18,000 conversations a week; the digest's two periods read a
quarter of the log), with drafts, events and ratings in realistic proportions, bulk-inserted with sqlite-utils. Then times
`build_digest` (current and previous period, every figure) and, separately, the chart.

    python bench/digest_bench.py                   # builds /tmp/tandem-bench-1m.db the first time
    python bench/digest_bench.py --messages 200000 --db /tmp/small.db
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.digest.chart import render_chart  # noqa: E402
from bot.digest.figures import build_digest  # noqa: E402
from storage import open_db  # noqa: E402
from storage.analytics import Analytics  # noqa: E402
from vocab.times import iso  # noqa: E402

QUESTIONS = ["How does pay in 4 work?", "Can I export invoices as CSV?", "Where is my refund?",
             "Do you support Apple Pay?", "How do I close my account?", "Can I pay in crypto?"]
STATUSES = ["approved"] * 40 + ["edited"] * 15 + ["rejected"] * 5 + ["auto_sent"] * 25 + ["superseded"] * 8 + \
    ["failed"] * 2 + ["pending"] * 5
AGENTS = ["alice", "bruno", "chen", "dana", "eli", "farah", "gus", "hana"]
REASONS = ["low_confidence", "asked_for_human", "draft_rejected", "frustration", "drafter_error"]


def build(path: Path, messages: int, weeks: int, now: datetime) -> None:
    rng = random.Random(1)
    db = open_db(path)
    per_conv = 7
    n_conv = messages // per_conv
    span = weeks * 7 * 86400
    convs, msgs, drafts, events, ratings = [], [], [], [], []
    mid = did = 0

    def flush(final: bool = False) -> None:
        if len(msgs) < 200_000 and not final:
            return
        with db.atomic():
            for name, rows in (("conversations", convs), ("messages", msgs), ("drafts", drafts),
                               ("events", events), ("ratings", ratings)):
                if rows:
                    db.table(name).insert_all(rows, batch_size=5000)
                    rows.clear()
        print(f"  {mid:,} messages", flush=True)

    for cid in range(1, n_conv + 1):
        t0 = now - timedelta(seconds=span * (cid / n_conv))
        platform = "slack" if cid % 5 < 3 else "discord"
        human = rng.random() < 0.5
        state = rng.choices(["resolved", "bot", "waiting_human", "human"], [85, 8, 4, 3])[0]
        t = t0
        kinds = ["customer", "bot", "customer", "agent" if human else "bot", "customer", "bot", "system"]
        first_response = None
        for i, kind in enumerate(kinds):
            t += timedelta(seconds=rng.expovariate(1 / 240)) if i else timedelta(0)  # the first message opens it
            if kind in ("bot", "agent") and first_response is None:
                first_response = iso(t + timedelta(seconds=1))  # stamped by the outbox on delivery
            mid += 1
            msgs.append({"id": mid, "conversation_id": cid, "author_kind": kind, "text": rng.choice(QUESTIONS),
                         "platform": platform, "created_at": iso(t), "delivered_at": iso(t + timedelta(seconds=1)),
                         "author_id": AGENTS[cid % 8] if kind == "agent" else "",
                         "author_name": AGENTS[cid % 8] if kind == "agent" else ""})
            if kind == "customer" and i < 4:
                did += 1
                status = rng.choice(STATUSES)
                decided = status in ("approved", "edited", "rejected", "auto_sent", "superseded")
                drafts.append({"id": did, "conversation_id": cid, "message_id": mid, "status": status,
                               "text": "Here is how it works: see Settings > Payments.", "confidence": rng.random(),
                               "created_at": iso(t), "drafted_at": iso(t + timedelta(seconds=2)),
                               "decided_at": iso(t + timedelta(seconds=rng.expovariate(1 / 600))) if decided else None,
                               "decided_by": AGENTS[cid % 8] if decided else None,
                               "edit_distance": rng.randint(2, 30) if status == "edited" else None,
                               "handoff_reason": "low_confidence" if status == "pending" else None})
                if status in ("approved", "edited", "rejected"):
                    events.append({"at": iso(t + timedelta(seconds=300)), "actor": AGENTS[cid % 8],
                                   "action": {"approved": "approve", "edited": "edited"}.get(status, "reject"),
                                   "conversation_id": cid, "draft_id": did, "details": "{}"})
        if rng.random() < 0.3:
            events.append({"at": iso(t0 + timedelta(seconds=30)), "actor": "tandem", "action": "handoff",
                           "conversation_id": cid, "details": f'{{"reason": "{rng.choice(REASONS)}"}}'})
        if human:
            events.append({"at": iso(t0 + timedelta(seconds=400)), "actor": AGENTS[cid % 8], "action": "takeover",
                           "conversation_id": cid, "details": "{}"})
        resolved = iso(t) if state == "resolved" else None
        convs.append({"id": cid, "platform": platform, "channel": f"C{cid % 50}", "thread": str(cid),
                      "customer_id": f"U{cid}", "state": state, "human_involved": int(human),
                      "created_at": iso(t0), "updated_at": iso(t), "resolved_at": resolved,
                      "first_response_at": first_response})
        if resolved and rng.random() < 0.3:
            ratings.append({"conversation_id": cid, "rating": rng.randint(1, 5), "at": resolved})
        flush()
    flush(final=True)
    db.execute("ANALYZE")
    db.conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="/tmp/tandem-bench-1m.db")
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--weeks", type=int, default=8)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--timezone", default="Europe/Amsterdam")
    args = parser.parse_args()
    path = Path(args.db)
    now = datetime(2026, 11, 30, tzinfo=timezone.utc)  # fixed, so the cached database stays comparable
    if not path.exists():
        print(f"building {path} with {args.messages:,} messages over {args.weeks} weeks ...", flush=True)
        started = time.perf_counter()
        build(path, args.messages, args.weeks, now)
        print(f"built in {time.perf_counter() - started:.1f}s")
    db = open_db(path)
    # the digest as posted on Monday 30 November: the whole local week before it
    digest_now = datetime(2026, 11, 30, tzinfo=ZoneInfo(args.timezone))
    total = db.execute("SELECT count(*) FROM messages").fetchone()[0]
    times = []
    for _ in range(args.runs):
        started = time.perf_counter()
        digest = build_digest(Analytics(db), days=7, tz=args.timezone, now=digest_now)
        times.append(time.perf_counter() - started)
    started = time.perf_counter()
    render_chart(digest, Path("/tmp/tandem-bench-digest.png"))
    chart = time.perf_counter() - started
    cur = digest.current
    print(f"{total:,} messages; week: {cur.opened:,} conversations, {cur.drafts_created:,} drafts, "
          f"{cur.handoffs_total:,} handoffs, {len(cur.agents)} agents")
    print(f"digest build: first {times[0] * 1000:.0f} ms, median {statistics.median(times) * 1000:.0f} ms, "
          f"best {min(times) * 1000:.0f} ms over {args.runs} runs; chart {chart * 1000:.0f} ms")


if __name__ == "__main__":
    main()
