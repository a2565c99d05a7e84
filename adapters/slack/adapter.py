"""SlackAdapter: the Adapter protocol on slack-bolt's AsyncApp, over HTTP (aiohttp) or Socket Mode.

It learns who the bot is (auth.test), wires the listeners, serves POST /slack/events and GET /healthz in HTTP
mode (or opens a Socket Mode connection when SLACK_APP_TOKEN is set), and delivers the core's actions.
Background work started by listeners is tracked so `stop()` can finish it cleanly.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Coroutine

import aiohttp
from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError

from bot.config import ConfigError
from bot.ports import CoreAPI
from vocab import Delivery, PlatformHealth, PostReport, SendMessage, UpsertCard

from . import listeners
from .config import SlackSettings
from .outbound import Outbound, make_client
from .server import SERVER_LIMITS, build_web_app
from .translate import PLATFORM, Identity, ids_as_strings

log = logging.getLogger(__name__)


def socket_handler(app: AsyncApp, app_token: str | None, core: CoreAPI):
    """bolt's Socket Mode handler, given string ids (see translate.ids_as_strings) before bolt reads them; the
    core's background work gives way while an envelope is handled and acknowledged."""
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    class Handler(AsyncSocketModeHandler):
        async def handle(self, client, req) -> None:
            if isinstance(req.payload, dict):
                ids_as_strings(req.payload)
            with core.acknowledging():
                await super().handle(client, req)

    return Handler(app, app_token)


class SlackAdapter:
    platform = PLATFORM

    def __init__(self, settings: SlackSettings):
        self.settings = settings
        self.client = make_client(settings)
        self.outbound = Outbound(self.client, settings)
        self.identity = Identity()
        self.core: CoreAPI = None  # type: ignore[assignment]  # set by start()
        self.app = AsyncApp(
            client=self.client,
            signing_secret=settings.slack_signing_secret or "socket-mode",
            request_verification_enabled=False,  # checked once, at the HTTP boundary (server.py); none in Socket Mode
            process_before_response=True,  # record the event in SQLite before Slack gets its ack
            raise_error_for_unhandled_request=False,
        )
        self.app.error(self._on_error)
        listeners.register(self.app, self)
        self._tasks: set[asyncio.Task] = set()
        self._runner: web.AppRunner | None = None
        self._socket: Any = None
        self.port: int | None = None
        self.last_event_at: str | None = None  # set by listeners each time an event is recorded

    @property
    def serves_health(self) -> bool:
        """In HTTP mode the one server answers /slack/events and /healthz; runtime starts none of its own."""
        return not self.settings.socket_mode

    def health(self) -> PlatformHealth:
        if self.settings.socket_mode:
            session = getattr(getattr(self._socket, "client", None), "current_session", None)
            connected = session is not None and not session.closed
            return PlatformHealth(PLATFORM, connected, self.last_event_at, "" if connected else "Socket Mode down")
        return PlatformHealth(PLATFORM, self._runner is not None, self.last_event_at,
                              "" if self._runner is not None else "not listening")

    # ---- Adapter protocol ----------------------------------------------------------------------------------
    async def start(self, core: CoreAPI) -> None:
        self.core = core
        if self.client.session is None or self.client.session.closed:
            # one pool of kept-alive connections for every Web API call: without it slack_sdk opens and closes a
            # TCP (and TLS) connection per call, about two per new customer
            self.client.session = aiohttp.ClientSession()
        try:
            auth = await self._auth_test()
        except BaseException:
            await self.client.session.close()
            raise
        self.identity = Identity(str(auth.get("user_id", "")), str(auth.get("bot_id", "")), str(auth.get("team_id", "")))
        log.info("slack: connected as %s (bot %s) in team %s", auth.get("user"), self.identity.bot_user_id,
                 self.identity.team_id)
        if self.settings.socket_mode:
            self._socket = socket_handler(self.app, self.settings.slack_app_token, core)
            await self._socket.connect_async()
            log.info("slack: Socket Mode connected")
            return
        self._runner = web.AppRunner(build_web_app(self.app, self.settings, core), access_log=None,
                                     keepalive_timeout=self.settings.tandem_http_header_timeout,
                                     shutdown_timeout=5, **SERVER_LIMITS)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.tandem_http_host, self.settings.tandem_http_port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        log.info("slack: listening on http://%s:%s/slack/events", self.settings.tandem_http_host, self.port)

    async def _auth_test(self):
        """Who the bot is; a Slack Web API that cannot be reached or refuses the token is a ConfigError naming
        the setting to check, so start-up stops with one line instead of a traceback."""
        url = self.settings.slack_api_url
        try:
            return await self.client.auth_test()
        except SlackApiError as exc:
            raise ConfigError(f"SLACK_BOT_TOKEN: Slack refused it at auth.test ({exc.response.get('error')}); "
                              "copy the Bot User OAuth Token (xoxb-...) from the app's OAuth & Permissions page"
                              ) from None
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
            raise ConfigError(f"SLACK_API_URL: cannot reach the Slack Web API at {url} (auth.test: {exc}); check "
                              "the network or proxy, or SLACK_API_URL") from None

    async def stop(self) -> None:
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=5)
        if self._socket is not None:
            await self._socket.close_async()
            self._socket = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.client.session.close() if self.client.session else None

    async def deliver(self, action: SendMessage | UpsertCard | PostReport) -> Delivery:
        return await self.outbound.deliver(action)

    async def find_delivered(self, action: SendMessage | UpsertCard | PostReport) -> Delivery | None:
        return await self.outbound.find_delivered(action)

    # ---- helpers for listeners -----------------------------------------------------------------------------
    def spawn(self, coro: Coroutine[Any, Any, None], what: str) -> asyncio.Task:
        async def guarded() -> None:
            try:
                await coro
            except Exception:  # noqa: BLE001 - a failed follow-up must not vanish silently
                log.exception("slack: %s failed after acknowledging", what)

        task = asyncio.create_task(guarded(), name=f"slack {what}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def idle(self, timeout: float = 5) -> None:
        """Wait for background follow-ups (ephemeral answers, modals) to finish; for tests and shutdown."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)

    async def _on_error(self, error: Exception, body: dict[str, Any]) -> BoltResponse:
        if isinstance(error, listeners.RecordError):
            log.error("slack: %s; answering 503 so Slack redelivers", error)
            return BoltResponse(status=503, body="")
        kind = body.get("type") if isinstance(body, dict) else None
        log.error("slack: error handling %s request: %s", kind, error, exc_info=error)
        return BoltResponse(status=200, body="")
