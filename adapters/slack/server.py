"""The HTTP boundary: POST /slack/events and GET /healthz on aiohttp, in front of bolt.

Slack redelivers anything that is not 2xx, so this layer makes sure a forged, stale, truncated or unexpected
request gets a 4xx or a 2xx with a log line, and never a 5xx (the single exception: an event the core could not
record answers 503 on purpose, so Slack redelivers it). The signature is checked here, once; bolt's own check
is off behind it.
"""
from __future__ import annotations

import hmac
import logging
import time

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier

from adapters.http_health import healthz_route
from bot.ports import CoreAPI

from .config import SlackSettings

log = logging.getLogger(__name__)
MAX_BODY = 1024 * 1024
MAX_AGE = 300  # seconds: Slack's own advice for rejecting replays


def signature_problem(verifier: SignatureVerifier, body: str, timestamp: str, signature: str,
                      now: float | None = None) -> str | None:
    """Why a request is not Slack's (None when it is): the one signature check, made here at the boundary.

    Every header is checked for shape before it reaches the HMAC, so a missing, empty, non-integer or
    non-ASCII value is a refusal, never an exception (an exception would be a 500, which Slack retries)."""
    if not timestamp or not timestamp.isascii() or not timestamp.isdigit():
        return "missing or malformed X-Slack-Request-Timestamp"
    if abs((time.time() if now is None else now) - int(timestamp)) > MAX_AGE:
        return "stale timestamp"
    if not signature or not signature.isascii():
        return "missing or malformed X-Slack-Signature"
    expected = verifier.generate_signature(timestamp=timestamp, body=body) or ""
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        return "bad signature"
    return None


def build_web_app(app: AsyncApp, settings: SlackSettings, core: CoreAPI) -> web.Application:
    verifier = SignatureVerifier(settings.slack_signing_secret or "")

    async def events(request: web.Request) -> web.Response:
        try:
            raw = await request.read()
            body = raw.decode("utf-8")
        except (UnicodeDecodeError, web.HTTPException, ConnectionError) as exc:
            log.warning("slack: unreadable request body from %s: %s", request.remote, exc)
            return web.Response(status=400, text="unreadable body")
        headers = {k.lower(): v for k, v in request.headers.items()}
        problem = signature_problem(verifier, body, headers.get("x-slack-request-timestamp", ""),
                                    headers.get("x-slack-signature", ""))
        if problem:
            log.warning("slack: rejected request from %s: %s", request.remote, problem)
            return web.Response(status=401, text="invalid signature")
        try:
            bolt_request = AsyncBoltRequest(body=body, query=request.query_string,
                                            headers={k: [v] for k, v in headers.items()})
        except Exception as exc:  # noqa: BLE001 - malformed JSON/form bodies end here
            log.warning("slack: malformed request body (%s): %.200r", exc, body)
            return web.Response(status=400, text="malformed body")
        try:
            response = await app.async_dispatch(bolt_request)
        except Exception:  # noqa: BLE001 - bolt catches its own; this is the last line of defence
            log.exception("slack: unexpected error dispatching a request")
            return web.Response(status=200, text="")
        if response.status == 404:
            log.info("slack: no listener for %s request; ignored", bolt_request.body.get("type")
                     if isinstance(bolt_request.body, dict) else "unknown")
            return web.Response(status=200, text="")
        if response.status >= 500 and response.status != 503:
            log.error("slack: bolt answered %s; answering 200 instead", response.status)
            return web.Response(status=200, text="")
        return await to_aiohttp_response(response)

    web_app = web.Application(client_max_size=MAX_BODY)
    web_app.router.add_post("/slack/events", events)
    web_app.router.add_get("/healthz", healthz_route(core))  # every platform's health, not Slack's alone
    return web_app
