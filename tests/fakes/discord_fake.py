"""A fake Discord (REST API + gateway websocket) on 127.0.0.1, so tests drive the real discord.py offline.

One aiohttp app serves both halves. REST: every call is recorded (method, path, json) and answered with
payloads shaped like Discord's (see discord/types/*.py). Gateway: HELLO, IDENTIFY -> READY + GUILD_CREATE,
heartbeat ACKs, RESUME (replaying missed events, or forcibly the last N to simulate redelivery), RECONNECT,
INVALID_SESSION (d=false: identify again; d=true: resumable), raw text frames (`send_raw`, for frames that are
not a JSON object), and `dispatch()` to push MESSAGE_CREATE, INTERACTION_CREATE, MESSAGE_REACTION_ADD and friends. The bot's own
reactions (PUT/DELETE .../reactions/{emoji}/@me) are kept in `reactions`. Payload builders live in
`discord_payloads.py`. Reusable by any test that needs a Discord to post to.

As Discord documents for POST /channels/{id}/messages: a message sent with a `nonce` and `enforce_nonce: true`
whose nonce the bot used moments before is not created again; the existing message is returned. `hold()`
keeps the answer to matching REST calls back (the message is already created) until `release()`.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import re
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes import discord_payloads as P


def reply(data: Any, status: int = 200) -> web.Response:
    """JSON exactly as Discord labels it: discord.py parses only content-type 'application/json' (no charset)."""
    return web.Response(body=json.dumps(data).encode(), status=status, headers={"Content-Type": "application/json"})


@dataclass
class Call:
    method: str
    path: str  # without the /api/v10 prefix
    json: Any = None
    query: dict = field(default_factory=dict)


class FakeDiscord:
    API = "/api/v10"

    def __init__(self, world: P.World | None = None):
        self.world = world or P.World()
        self.calls: list[Call] = []
        self.messages: dict[str, dict] = {}  # posted by the bot, by id
        self.reactions: dict[tuple[str, str], list[str]] = {}  # (channel, message) -> the bot's reactions
        self.threads: dict[str, dict] = {}  # threads created through REST
        self.identifies: list[dict] = []
        self.resumes: list[dict] = []
        self.seq = 0
        self.sent: list[tuple[int, str, dict]] = []  # (seq, event name, data) dispatched this session
        self.replay_on_resume = 0  # resend the last N events on the next RESUME, as Discord may
        self.failures: list[list] = []  # [method, path pattern, status, calls to let through]
        self.nonces: dict[str, str] = {}  # nonce -> id of the message created with it (enforce_nonce)
        self.held: list[Call] = []
        self._hold: tuple[str, re.Pattern] | None = None
        self._released = asyncio.Event()
        self.refuse_resume = False  # answer the next RESUME with INVALID_SESSION d=false, as for an expired session
        self.refuse_gateway = False  # answer gateway connections with 503, as during a Discord outage
        self._ws: web.WebSocketResponse | None = None
        self._ready = asyncio.Event()
        self._changed = asyncio.Condition()
        self._ids = itertools.count(1_300_000_000_000_000_001)
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ---- lifecycle ---------------------------------------------------------------------------------
    async def start(self) -> "FakeDiscord":
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", self.API + "/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._ws is not None and not self._ws.closed:
            await self._ws.close()
        if self._runner:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.API}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    def new_id(self) -> str:
        return str(next(self._ids))

    # ---- test helpers ------------------------------------------------------------------------------
    def fail(self, method: str, path_regex: str, status: int, times: int = 1, after: int = 0) -> None:
        """Answer the next `times` matching REST calls with `status`, after letting `after` of them through."""
        for _ in range(times):
            self.failures.append([method.upper(), re.compile(path_regex), status, after])

    def hold(self, method: str, path_regex: str) -> None:
        """Do the next matching call's work but keep its answer back until `release()`."""
        self._hold, self._released = (method.upper(), re.compile(path_regex)), asyncio.Event()

    def release(self) -> None:
        self._hold = None
        self._released.set()

    async def wait_held(self, timeout: float = 10.0) -> Call:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: bool(self.held)), timeout)
        return self.held[-1]

    def posted(self, channel: str) -> list[dict]:
        """Messages the bot has in `channel`, oldest first."""
        return [m for m in self.messages.values() if m["channel_id"] == channel]

    def find(self, method: str, path_regex: str) -> list[Call]:
        pattern = re.compile(path_regex)
        return [c for c in self.calls if c.method == method and pattern.fullmatch(c.path)]

    async def wait_for(self, method: str, path_regex: str, count: int = 1, timeout: float = 5.0) -> list[Call]:
        async def have() -> list[Call]:
            async with self._changed:
                await self._changed.wait_for(lambda: len(self.find(method, path_regex)) >= count)
            return self.find(method, path_regex)

        try:
            return await asyncio.wait_for(have(), timeout)
        except asyncio.TimeoutError:
            seen = "\n".join(f"  {c.method} {c.path}" for c in self.calls[-15:])
            raise AssertionError(f"no {count}x {method} {path_regex} within {timeout}s; last calls:\n{seen}")

    async def wait_ready(self, timeout: float = 5.0) -> None:
        await asyncio.wait_for(self._ready.wait(), timeout)

    async def dispatch(self, event: str, data: dict) -> int:
        self.seq += 1
        self.sent.append((self.seq, event, data))
        if self._ws is not None and not self._ws.closed:
            await self._ws.send_str(json.dumps({"op": 0, "t": event, "s": self.seq, "d": data}))
        return self.seq

    async def request_reconnect(self) -> None:
        """Op 7 RECONNECT: the client closes and RESUMEs, as after a Discord-side restart."""
        self._ready.clear()
        if self._ws is not None and not self._ws.closed:
            await self._ws.send_str(json.dumps({"op": 7, "d": None}))

    async def send_raw(self, text: str) -> None:
        """Send one text frame as is (`{`, `null`, `[]`): what a broken proxy or a gateway bug could deliver."""
        self._ready.clear()
        if self._ws is not None and not self._ws.closed:
            await self._ws.send_str(text)

    async def invalidate_session(self, resumable: bool) -> None:
        """Op 9 INVALID_SESSION: d=false means the session is gone (the client must IDENTIFY again), d=true
        means it may RESUME. Discord sends it after a failed RESUME too."""
        self._ready.clear()
        if self._ws is not None and not self._ws.closed:
            await self._ws.send_str(json.dumps({"op": 9, "d": resumable}))

    async def drop_connection(self, code: int = 4000) -> None:
        """Close the gateway websocket from Discord's side: 4000 as a network failure or a Discord restart
        does (the client resumes), 4004 'authentication failed' (the client must not retry)."""
        self._ready.clear()
        if self._ws is not None and not self._ws.closed:
            await self._ws.close(code=code)

    # ---- gateway -----------------------------------------------------------------------------------
    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        if self.refuse_gateway:
            return web.Response(status=503, text="gateway unavailable")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._ws = ws
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 41250}}))
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            payload = json.loads(msg.data)
            op, data = payload.get("op"), payload.get("d")
            if op == 1:
                await ws.send_str(json.dumps({"op": 11}))
            elif op == 2:
                self.identifies.append(data)
                await self._identify(ws)
            elif op == 6:
                self.resumes.append(data)
                if self.refuse_resume:
                    self.refuse_resume = False
                    await ws.send_str(json.dumps({"op": 9, "d": False}))
                    continue
                await self._resume(ws, int(data.get("seq") or 0))
        return ws

    async def _identify(self, ws: web.WebSocketResponse) -> None:
        self.sent.clear()
        self.seq = 0
        w = self.world
        ready = {"v": 10, "user": w.bot_user(), "guilds": [{"id": w.guild_id, "unavailable": True}],
                 "session_id": f"session-{len(self.identifies)}", "resume_gateway_url": self.gateway_url,
                 "shard": [0, 1], "application": {"id": w.app_id, "flags": 0}}
        await self.dispatch("READY", ready)
        await self.dispatch("GUILD_CREATE", w.guild(extra_threads=list(self.threads.values())))
        self._ready.set()

    async def _resume(self, ws: web.WebSocketResponse, seq: int) -> None:
        missed = [e for e in self.sent if e[0] > seq]
        if self.replay_on_resume:
            missed = self.sent[-self.replay_on_resume:]
            self.replay_on_resume = 0
        for s, event, data in missed:
            await ws.send_str(json.dumps({"op": 0, "t": event, "s": s, "d": data}))
        await self.dispatch("RESUMED", {})
        self._ready.set()

    # ---- REST --------------------------------------------------------------------------------------
    async def _rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        body: Any = None
        if request.content_type == "multipart/form-data":
            body = await self._multipart(request)
        elif request.can_read_body:
            raw = await request.read()
            body = json.loads(raw) if raw else None
        self.calls.append(Call(request.method, path, body, dict(request.query)))
        async with self._changed:
            self._changed.notify_all()
        for i, failure in enumerate(self.failures):
            method, pattern, status, after = failure
            if method == request.method and pattern.fullmatch(path):
                if after:
                    failure[3] -= 1
                    break
                del self.failures[i]
                return reply({"message": "injected failure", "code": 0}, status=status)
        try:
            response = await self._route(request.method, path, body or {})
        except KeyError as exc:
            return reply({"message": f"Unknown {exc}", "code": 10003}, status=404)
        if self._hold and self._hold[0] == request.method and self._hold[1].fullmatch(path):
            self.held.append(self.calls[-1])
            async with self._changed:
                self._changed.notify_all()
            await self._released.wait()
        return response

    async def _multipart(self, request: web.Request) -> dict:
        body: dict = {"files": []}
        async for part in await request.multipart():
            if part.name == "payload_json":
                body.update(json.loads(await part.text()))
            else:
                body["files"].append({"name": part.name, "filename": part.filename, "size": len(await part.read())})
        return body

    async def _route(self, method: str, path: str, body: dict) -> web.Response:
        w = self.world
        ok = reply
        if path == "/gateway/bot":
            return ok({"url": self.gateway_url, "shards": 1, "session_start_limit":
                       {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}})
        if path == "/users/@me":
            return ok(w.bot_user())
        if path == "/oauth2/applications/@me":
            return ok(w.app_info())
        if m := re.fullmatch(r"/applications/\d+(?:/guilds/\d+)?/commands", path):
            cmds = [dict(c, id=self.new_id(), application_id=w.app_id, version="1", type=c.get("type", 1))
                    for c in (body if isinstance(body, list) else [])]
            return ok(cmds)
        if m := re.fullmatch(r"/channels/(\d+)/messages", path):
            if method != "POST":
                return ok([])
            nonce = body.get("nonce")
            if nonce is not None and body.get("enforce_nonce") and str(nonce) in self.nonces:
                return ok(self.messages[self.nonces[str(nonce)]])
            msg = P.message(self.new_id(), m[1], w.bot_user(), body.get("content") or "", guild_id=w.guild_of(m[1]),
                            embeds=body.get("embeds", []), components=body.get("components", []))
            if nonce is not None:
                msg["nonce"] = nonce
                if body.get("enforce_nonce"):
                    self.nonces[str(nonce)] = msg["id"]
            self.messages[msg["id"]] = msg
            return ok(msg)
        if m := re.fullmatch(r"/channels/(\d+)/messages/(\d+)", path):
            if m[2] not in self.messages:  # as Discord: 10008 Unknown Message
                return reply({"code": 10008, "message": "Unknown Message"}, status=404)
            msg = self.messages[m[2]]
            if method == "PATCH":
                msg.update({k: v for k, v in body.items() if k in ("content", "embeds", "components")})
                msg["edited_timestamp"] = P.now()
            return ok(msg)
        if m := re.fullmatch(r"/channels/(\d+)/messages/(\d+)/reactions/([^/]+)/@me", path):
            mine = self.reactions.setdefault((m[1], m[2]), [])  # as Discord: adding twice or removing none is 204
            emoji = urllib.parse.unquote(m[3])
            if method == "PUT" and emoji not in mine:
                mine.append(emoji)
            elif method == "DELETE" and emoji in mine:
                mine.remove(emoji)
            return web.Response(status=204)
        if m := re.fullmatch(r"/channels/(\d+)/messages/(\d+)/threads", path):
            if m[2] in self.threads:
                return ok({"message": "A thread has already been created for this message", "code": 160004},
                          status=400)
            thread = P.thread(m[2], m[1], w.guild_id, w.bot_id, body.get("name", "thread"))
            self.threads[m[2]] = thread
            await self.dispatch("THREAD_CREATE", dict(thread, newly_created=True))
            return reply(thread, status=201)
        if m := re.fullmatch(r"/channels/(\d+)", path):
            found = self.threads.get(m[1]) or w.channel(m[1])
            if found is None:
                raise KeyError("Channel")
            return ok(found)
        if m := re.fullmatch(r"/interactions/(\d+)/([^/]+)/callback", path):
            return ok({"interaction": {"id": m[1], "type": body.get("type"),
                                       "response_message_ephemeral": bool((body.get("data") or {}).get("flags", 0) & 64)}})
        if m := re.fullmatch(r"/webhooks/(\d+)/([^/]+)(?:/messages/(@original|\d+))?", path):
            msg = P.message(self.new_id(), w.agent_channel, w.bot_user(), body.get("content") or "",
                            guild_id=w.guild_id, embeds=body.get("embeds", []), flags=body.get("flags", 0))
            return ok(msg)
        raise KeyError(path)
