"""Digest builds in a child process, so they never hold up the acknowledging event loop.

A digest over a large log is a few seconds of Python (figures, then the matplotlib chart). In a worker thread
it still shares the interpreter's lock with the event loop that records and acknowledges platform events,
and acknowledgements measured during such a build waited seconds (README, "Acknowledgements during a digest
build"). A child process reads on a connection of its own (WAL lets it read while the core writes), computes
on the other core, and hands back only the result.

The child is spawned per build (a digest is weekly or on demand, so a lingering process would cost memory
every other hour) and is a fresh interpreter: it imports just the digest modules, not the running Tandem.
A database that lives only in this process's memory (tests) cannot be read from another process; its build
runs in a worker thread instead.
"""
from __future__ import annotations

import asyncio
import logging
import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

from bot.ports import Store

log = logging.getLogger(__name__)
T = TypeVar("T")


async def build_off_loop(store: Store, work: Callable[..., T], *args) -> T:
    """`work(reader, *args)`, where `reader()` opens the digest's queries on a connection of its own: in a
    child process for a file database, in a worker thread for an in-memory one. `work` and `args` must be
    picklable (a module-level function and plain values)."""
    factory = store.reader_factory()
    if factory is None:
        return await asyncio.to_thread(work, store.reader, *args)
    started = time.perf_counter()
    pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    try:
        result = await asyncio.get_running_loop().run_in_executor(pool, work, factory, *args)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)  # the child exits once its one job is done
    log.info("%s built in a child process in %.2f s", getattr(work, "__name__", "digest"),
             time.perf_counter() - started)
    return result
