"""What a commit costs the event loop's thread on a large database, with SQLite checkpointing inside commits
(its default) and with the checkpoints taken off the writer, as the running core does (storage/maintenance.py).

It copies a seeded database (`python bench/digest_bench.py` builds a 1,000,000-message one), flushes the copy
to disk, then writes N customers the way the core does for each (a conversation, a message, a draft, an outbox
row, an audit row), one transaction each, timing every COMMIT. With `--deferred` the writer's checkpoint mark
is raised and a thread checkpoints every `--every` seconds on its own connection, as `Core` does.

    python bench/commit_cost.py --db /tmp/tandem-bench-1m.db               # SQLite's default
    python bench/commit_cost.py --db /tmp/tandem-bench-1m.db --deferred    # as the running core does
    python bench/commit_cost.py --db /tmp/tandem-bench-1m.db --rate 500 -n 5000 [--deferred] [--every 1]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.core import CHECKPOINT_EVERY  # noqa: E402
from storage import Store, open_db  # noqa: E402
from vocab import Address  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="a seeded database to copy (bench/digest_bench.py)")
    parser.add_argument("-n", type=int, default=3000, help="customers written, one transaction each")
    parser.add_argument("--rate", type=float, default=0, help="transactions a second (0: as fast as it goes)")
    parser.add_argument("--every", type=float, default=CHECKPOINT_EVERY,
                        help=f"seconds between background checkpoints (the core's: {CHECKPOINT_EVERY:g})")
    parser.add_argument("--deferred", action="store_true", help="checkpoints off the writer, as the core does")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "copy.db")
        shutil.copyfile(args.db, path)
        os.sync()  # a fresh copy's writeback would otherwise stall the commits being measured
        store = Store(open_db(path, migrate=False))
        stop = threading.Event()
        if args.deferred:
            store.defer_checkpoints()

            def checkpoints() -> None:
                while not stop.wait(args.every):
                    store.checkpoint()

            threading.Thread(target=checkpoints, daemon=True).start()
        commits: list[float] = []
        begun = time.perf_counter()
        for i in range(args.n):
            if args.rate:  # paced like a core taking customers at a steady rate
                time.sleep(max(0.0, begun + i / args.rate - time.perf_counter()))
            store.db.conn.execute("BEGIN")
            conv = store.open_conversation(Address("slack", "T1", "CBENCH", f"t{i}"), f"U{i}", f"customer {i}", "en")
            message = store.append_message(conv.id, "customer", "How do I reset my password?", "slack")
            store.create_draft_job(conv.id, message)
            store.enqueue_action("slack", "upsert_card", {"conversation_id": conv.id}, conversation_id=conv.id)
            store.log_event("tandem", "draft_ready", conversation_id=conv.id)
            started = time.perf_counter()
            store.db.conn.execute("COMMIT")
            commits.append(time.perf_counter() - started)
        stop.set()
        store.db.close()
    ms = sorted(c * 1000 for c in commits)
    print(f"{f'deferred (every {args.every:g} s)' if args.deferred else 'default'} checkpoints, {args.n} commits: mean "
          f"{statistics.mean(ms) * 1000:.0f} µs, p50 {ms[len(ms) // 2] * 1000:.0f} µs, "
          f"p99 {ms[int(len(ms) * 0.99)]:.2f} ms, max {ms[-1]:.2f} ms")


if __name__ == "__main__":
    main()
