"""The HTTP boundary: POST /slack/events, GET /healthz and GET /metrics on aiohttp, in front of bolt.

Slack redelivers anything that is not 2xx, so this layer makes sure a forged, stale, truncated or unexpected
request gets a 4xx or a 2xx with a log line, and never a 5xx (the single exception: an event the core could not
record answers 503 on purpose, so Slack redelivers it). The signature is checked here, once; bolt's own check
is off behind it.

Before the signature can be checked the client is unknown, so what it may hold is bounded: the headers must
arrive within TANDEM_HTTP_HEADER_TIMEOUT (aiohttp's keep-alive timer also runs from the connection's start),
at most 40 header lines of 4 KiB; the body must declare its length, at most MAX_BODY (else 413 at once, before
any of it is read) and arrive within TANDEM_HTTP_BODY_TIMEOUT (else 408 and the connection is closed); at
most TANDEM_HTTP_MAX_PENDING bodies are read at once, of which TANDEM_HTTP_LARGE_BODIES may exceed
SMALL_BODY (else 503, which Slack retries). Worst case about 256 x 64 KiB + 8 x 512 KiB = 20 MiB of bodies,
released when the connections close (bench/slow_clients.py measures it).
"""
from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from dataclasses import dataclass

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier

from adapters.http_health import add_routes
from bot.ports import CoreAPI

from .config import SlackSettings
from .listeners import RECEIVED
from .translate import ids_as_strings

log = logging.getLogger(__name__)
# Slack truncates message text at 40,000 characters (api.slack.com/changelog/2018-04-truncating-really-long-
# messages); an event carries it twice at most (text and rich_text blocks), 3 bytes a character for most
# scripts, plus the envelope: well under 512 KiB. Slash commands and button presses are a few KiB.
MAX_BODY = 512 * 1024
SMALL_BODY = 64 * 1024  # nearly every Slack request; larger ones share TANDEM_HTTP_LARGE_BODIES slots
MAX_AGE = 300  # seconds: Slack's own advice for rejecting replays
# lingering_time 0: a refused body is not drained (aiohttp would otherwise read it for 10 s), the socket closes
SERVER_LIMITS = {"max_headers": 40, "max_field_size": 4096, "max_line_size": 4096, "lingering_time": 0}


@dataclass
class Admission:
    """How many unauthenticated bodies are being read now, against the configured caps."""

    max_pending: int
    max_large: int
    pending: int = 0
    large: int = 0

    def refusal(self, length: int | None) -> tuple[int, str] | None:
        if length is None:
            return 411, "Content-Length required"
        if length > MAX_BODY:
            return 413, f"body over {MAX_BODY} bytes"
        if self.pending >= self.max_pending or (length > SMALL_BODY and self.large >= self.max_large):
            return 503, "too many requests in progress"
        return None


def refuse(request: web.Request, status: int, why: str) -> web.Response:
    """Answer without reading the body and close the connection, so nothing more of it is buffered."""
    log.warning("slack: %s from %s (Content-Length %s); answered %s", why, request.remote,
                request.content_length, status)
    response = web.Response(status=status, text=why, headers={"Retry-After": "1"} if status == 503 else None)
    response.force_close()
    return response


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


def bolt_request_for(body: str, query: str, headers: dict[str, str],
                     context: dict | None = None) -> AsyncBoltRequest:
    """The bolt request for a verified body. bolt fails on an event whose user (or team, channel) id is a
    number; such an event is a customer's message all the same, so its ids are spelled as strings and the
    request is built again (the signature was checked on the body as received)."""
    multi = {k: [v] for k, v in headers.items()}
    try:
        return AsyncBoltRequest(body=body, query=query, headers=multi, context=context)
    except (TypeError, AttributeError):
        parsed = json.loads(body) if body.lstrip().startswith("{") else None
        if not isinstance(parsed, dict) or not ids_as_strings(parsed):
            raise
        return AsyncBoltRequest(body=json.dumps(parsed), query=query, headers=multi, context=context)


def build_web_app(app: AsyncApp, settings: SlackSettings, core: CoreAPI) -> web.Application:
    verifier = SignatureVerifier(settings.slack_signing_secret or "")
    admission = Admission(settings.tandem_http_max_pending, settings.tandem_http_large_bodies)

    async def read_body(request: web.Request) -> bytes | web.Response:
        length = request.content_length
        refusal = admission.refusal(length)
        if refusal:
            return refuse(request, *refusal)
        large = length > SMALL_BODY
        admission.pending += 1
        admission.large += large
        try:
            return await asyncio.wait_for(request.read(), settings.tandem_http_body_timeout)
        except asyncio.TimeoutError:
            return refuse(request, 408, f"body not sent within {settings.tandem_http_body_timeout:g}s")
        finally:
            admission.pending -= 1
            admission.large -= large

    async def events(request: web.Request) -> web.Response:
        received = time.perf_counter()  # the acknowledgement latency (tandem_ack_seconds) runs from here
        try:
            raw = await read_body(request)
            if isinstance(raw, web.Response):
                return raw
            body = raw.decode("utf-8")
        except (UnicodeDecodeError, web.HTTPException, ConnectionError) as exc:
            log.warning("slack: unreadable request body from %s: %s", request.remote, exc)
            return web.Response(status=400, text="unreadable body")
        with core.acknowledging():  # the core's background work gives way until this request is answered
            return await answer(body, request, received)

    async def answer(body: str, request: web.Request, received: float) -> web.Response:
        headers = {k.lower(): v for k, v in request.headers.items()}
        problem = signature_problem(verifier, body, headers.get("x-slack-request-timestamp", ""),
                                    headers.get("x-slack-signature", ""))
        if problem:
            log.warning("slack: rejected request from %s: %s", request.remote, problem)
            return web.Response(status=401, text="invalid signature")
        try:
            bolt_request = bolt_request_for(body, request.query_string, headers, {RECEIVED: received})
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
    add_routes(web_app.router, core)  # /healthz and /metrics: every platform's, not Slack's alone
    return web_app
