"""Wiring: build the core from settings and run it with every adapter whose credentials are set.

One asyncio loop runs everything: the core's processor, drafting workers and outbox, each connected
platform, and the scheduler. With no platform configured, the console adapter is the embedded default.
Platforms and background services are found in one registry, the package's entry points
(`tandem.platforms`, `tandem.services` in pyproject.toml): adding a platform is a new package under
adapters/ plus one line there.
"""
from __future__ import annotations

import asyncio
import gc
import logging
import signal
from collections.abc import Callable
from datetime import datetime
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

from adapters.http_health import HealthServer
from bot import approvals
from bot.config import ConfigError, Settings
from bot.confirmations import attach
from bot.core import Core
from bot.drafting.retrieval import KBDrafter
from bot.kb import load_kb, unwritten
from bot.kb_live import LiveKB
from bot.snippets import load_snippets
from bot.ports import Adapter
from storage import Store, open_db
from storage.db import exposed_files
from vocab.times import utcnow

log = logging.getLogger(__name__)

PLATFORMS = "tandem.platforms"  # name -> from_env(env_file) returning an adapter, or None without credentials
SERVICES = "tandem.services"  # name -> factory(core) returning a coroutine run beside the core


def build_drafter(settings: Settings, articles=None):
    """The configured drafter over `articles` (default: TANDEM_KB's, as the files say)."""
    articles = load_kb(settings.tandem_kb) if articles is None else articles
    encoder = embedding_encoder(settings)
    kb = index_kb(articles, encoder)
    confirmed = sum(len(a.confirmed) for a in articles)
    log.info("knowledge base: %d articles from %s%s, indexed in %.2fs%s", len(articles),
             settings.tandem_kb or "the bundled sample",
             f", {confirmed} questions confirmed by approvals" if confirmed else "", kb.build_seconds,
             _describe(encoder))
    if warning := unwritten_warning(articles):
        log.warning("%s", warning)
    if not settings.llm_enabled:
        return kb
    from bot.drafting.llm import LLMDrafter

    log.info("drafting with %s at %s", settings.tandem_llm_model, settings.openai_base_url or "api.openai.com")
    return LLMDrafter(kb, api_key=settings.openai_api_key, base_url=settings.openai_base_url,
                      model=settings.tandem_llm_model, timeout=settings.tandem_llm_timeout)


def index_kb(articles, encoder) -> KBDrafter:
    """The KB drafter with its index built; an embeddings endpoint that fails now is a start-up error naming it."""
    if encoder is None:
        return KBDrafter(articles)
    from bot.drafting.embeddings import EmbeddingsUnavailable

    try:
        return KBDrafter(articles, encoder=encoder)
    except EmbeddingsUnavailable as exc:
        raise ConfigError(str(exc)) from None


def unwritten_warning(articles) -> str | None:
    """The start-up warning about imported articles whose answer is still the placeholder, or None."""
    missing = unwritten(articles)
    if not missing:
        return None
    shown = ", ".join(missing[:20]) + (f" and {len(missing) - 20} more" if len(missing) > 20 else "")
    return (f"{len(missing)} of {len(articles)} knowledge-base articles have no written answer yet ({shown}); "
            "drafts from them always wait for review: write their answers in the .md files")


def _describe(encoder) -> str:
    if encoder is None:
        return ""
    inner = getattr(encoder, "inner", encoder)
    backend = getattr(inner, "backend", None)
    cache = getattr(encoder, "path", None)
    return (f", with embeddings from {inner.name}" + (f" ({backend})" if backend else "")
            + (f", vectors cached in {cache}" if cache else ", no vector cache"))


def embedding_encoder(settings: Settings):
    """The sentence encoder when TANDEM_EMBEDDINGS is on; a missing extra is a start-up error naming it."""
    if not settings.tandem_embeddings:
        return None
    try:
        from bot.drafting.embeddings import EmbeddingsUnavailable, encoder_from_env
    except ImportError as exc:
        raise ConfigError(f"TANDEM_EMBEDDINGS: needs the embeddings extra ({exc.name} is not installed)") from None
    try:
        encoder = encoder_from_env(settings)
    except (EmbeddingsUnavailable, OSError) as exc:
        raise ConfigError(f"TANDEM_EMBEDDINGS: {exc}") from None
    cache = embeddings_cache_path(settings)
    if cache is None:
        return encoder
    from bot.drafting.embeddings import CachingEncoder

    return CachingEncoder(encoder, cache)


def embeddings_cache_path(settings: Settings) -> Path | None:
    """Where the KB's question vectors are kept between restarts: TANDEM_EMBEDDINGS_CACHE, else beside the DB."""
    chosen = (settings.tandem_embeddings_cache or "").strip()
    if chosen:
        return None if chosen.lower() == "off" else Path(chosen)
    if settings.tandem_db == ":memory:":
        return None
    return Path(settings.tandem_db + ".embeddings.npz")


def open_store(path: str, clock: Callable[[], datetime] = utcnow) -> Store:
    """The SQLite store on `path` (created and migrated if need be); warns once if others can read it."""
    store = Store(open_db(path), clock=clock)
    exposed = exposed_files(path)
    if exposed:
        log.warning("%s can be read by other users of this machine (it holds every conversation): run chmod 600 %s",
                    ", ".join(exposed), " ".join(exposed))
    return store


def build_core(settings: Settings, clock: Callable[[], datetime] | None = None, drafter=None) -> Core:
    articles = load_kb(settings.tandem_kb) if drafter is None else None  # a bad article stops start-up here,
    snippets = load_snippets(settings.tandem_snippets)  # and a bad saved reply, before anything opens
    store = open_store(settings.tandem_db, clock or utcnow)
    confirmed = approvals.stored(store, settings.tandem_learn_from_approvals)  # indexed with the files' questions
    drafter = drafter or build_drafter(settings, attach(articles, confirmed))
    return Core(settings, store, drafter, snippets, kb=live_kb(settings, drafter, confirmed))


def live_kb(settings: Settings, drafter, confirmed: dict[str, list[str]] | None = None) -> LiveKB | None:
    """The knowledge base that follows its folder, when the drafter ranks articles (the KB or LLM drafter), with
    the questions agents confirmed by approving drafts unchanged (bot/approvals.py)."""
    retriever = getattr(drafter, "retriever", drafter)
    if not hasattr(retriever, "apply"):
        return None
    return LiveKB(retriever, settings.tandem_kb, confirmed)


def _load(group: str) -> list[tuple[str, Callable]]:
    """Every entry point of `group` whose module this install has; any other import error is raised."""
    found = []
    for point in sorted(entry_points(group=group), key=lambda p: p.name):
        try:
            found.append((point.name, point.load()))
        except ModuleNotFoundError as exc:
            if not _is_missing(point, exc):
                raise
            log.info("%s %s is not installed here; skipped", group, point.name)
    return found


def _is_missing(point: EntryPoint, exc: ModuleNotFoundError) -> bool:
    return bool(exc.name) and point.module.startswith(exc.name)


def platform_adapters(env_file: str | None) -> list[Adapter]:
    """Every platform adapter whose credentials are set. A bad setting raises ConfigError naming it."""
    return [a for a in (from_env(env_file) for _, from_env in _load(PLATFORMS)) if a is not None]


def check_services(env_file: str | None) -> None:
    """Read the background services' settings now (ConfigError naming a bad one), so a bad TANDEM_DIGEST_CRON
    stops start-up before the database is opened or any platform listens, on the console too."""
    from bot.digest.publish import digest_settings

    digest_settings(env_file)


def services(core: Core) -> list:
    return [factory(core) for _, factory in _load(SERVICES)]


def freeze_start_up_heap() -> None:
    """What start-up built (modules, the knowledge-base index, the platform clients) lives as long as the
    process: collect once, then take it out of the garbage collector's sight, so a full collection under load
    walks only what came after. A full pass over the start-up heap (~100,000 objects) held the event loop
    ~30 ms, long enough to show in the acknowledgements' tail."""
    gc.collect()
    gc.freeze()


async def serve(core: Core, adapters: list[Adapter], *, until: asyncio.Future | None = None) -> None:
    """Run the core and adapters until `until` completes or SIGINT/SIGTERM arrives."""
    loop = asyncio.get_running_loop()
    stop = until or loop.create_future()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
        except (NotImplementedError, RuntimeError):
            pass
    await core.start()
    started: list[Adapter] = []
    background: list[asyncio.Task] = []
    health = None
    try:  # an adapter that cannot start (ConfigError naming the setting) still leaves everything closed
        for adapter in adapters:
            core.register(adapter)
            started.append(adapter)
            await adapter.start(core)
            log.info("%s adapter connected", adapter.platform)
        if adapters and not any(getattr(a, "serves_health", False) for a in adapters):
            health = HealthServer(core, core.settings.tandem_http_host, core.settings.tandem_http_port)
            await health.start()
        background = [asyncio.create_task(c) for c in services(core)]
        freeze_start_up_heap()
        await stop
    finally:
        for task in background:
            task.cancel()
        if health is not None:
            await health.stop()
        for adapter in started:
            try:
                await adapter.stop()
            except Exception:
                log.exception("stopping the %s adapter failed", adapter.platform)
        await core.stop()
        await core.drafter.aclose()
