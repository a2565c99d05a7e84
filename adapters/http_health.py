"""GET /healthz and GET /metrics over aiohttp, for every way Tandem runs: the Slack HTTP server mounts
`healthz_route` and `metrics_route`, and when nothing else listens (Socket Mode, Discord only) `HealthServer`
serves them alone on TANDEM_HTTP_HOST and TANDEM_HTTP_PORT. /healthz: 200 while every configured platform is
connected, 503 (same body) while one is down. /metrics: the Prometheus text format (bot/metrics.py)."""
from __future__ import annotations

import logging

from aiohttp import web

from bot.config import ConfigError
from bot.health import health_report
from bot.metrics import CONTENT_TYPE
from bot.ports import CoreAPI

log = logging.getLogger(__name__)


def healthz_route(core: CoreAPI):
    async def healthz(request: web.Request) -> web.Response:
        try:
            ok, body = health_report(core)
        except Exception as exc:  # noqa: BLE001 - a health check that cannot look is itself the answer
            log.exception("healthz: could not build the report")
            return web.json_response({"ok": False, "error": type(exc).__name__}, status=503)
        return web.json_response(body, status=200 if ok else 503)

    return healthz


def metrics_route(core: CoreAPI):
    async def metrics(request: web.Request) -> web.Response:
        try:
            body = core.metrics.render()
        except Exception:  # noqa: BLE001 - a scrape that fails is a 503 and a log line, never a crash
            log.exception("metrics: could not collect")
            return web.Response(status=503, text="could not collect the metrics")
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    return metrics


def add_routes(router: web.UrlDispatcher, core: CoreAPI) -> None:
    router.add_get("/healthz", healthz_route(core))
    router.add_get("/metrics", metrics_route(core))


class HealthServer:
    def __init__(self, core: CoreAPI, host: str, port: int) -> None:
        self.core, self.host, self.port = core, host, port
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application(client_max_size=1024)
        add_routes(app.router, self.core)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            raise ConfigError(f"TANDEM_HTTP_PORT: cannot serve /healthz on {self.host}:{self.port} ({exc.strerror}); "
                              "choose a free port with TANDEM_HTTP_HOST/TANDEM_HTTP_PORT") from None
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        log.info("health check at http://%s:%s/healthz, metrics at /metrics", self.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
