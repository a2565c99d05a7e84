"""A fake Slack Web API on 127.0.0.1: the real slack_sdk talks to it, tests read what it was asked.

Every call is recorded as `Call(method, params)` (form, query and JSON bodies merged), so tests can assert on
what Tandem posted without mocking any of our code. It can be scripted to fail the next N calls with HTTP 429
(Retry-After) or 5xx, or with a Slack error such as channel_not_found. It also serves the upload URL that
`files_upload_v2` posts to, and a response_url endpoint for bolt's `respond()`.

Like Slack, it keeps what was posted (`messages`, per channel, with any message `metadata`) and answers
conversations.history / conversations.replies from it (metadata only with include_all_metadata). `hold()`
keeps the answer to matching calls back (the message is already posted) until `release()`, to stage a
process dying between the platform call and its confirmation.

    async with FakeSlackAPI() as api:        # api.base_url ends with /api/ (use it as SLACK_API_URL)
        api.fail_next(2, status=429, retry_after=0)
        ...
        call = await api.wait_for("chat.postMessage", lambda c: c.params.get("thread_ts") == "1.0")
"""
from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from aiohttp import web

BOT_USER = "UBOT"
BOT_ID = "BBOT"
TEAM = "T0TEAM"


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    status: int = 200
    at: float = field(default_factory=time.monotonic)


@dataclass
class _Failure:
    method: str | None
    status: int
    retry_after: int | None
    error: str | None
    after: int = 0  # matching calls to let through first


class FakeSlackAPI:
    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.host, self.port = host, port
        self.calls: list[Call] = []
        self.uploads: dict[str, bytes] = {}
        self._failures: list[_Failure] = []
        self._ts = itertools.count(1)
        self._ids = itertools.count(1)
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._sockets: list[web.WebSocketResponse] = []
        self.messages: dict[str, list[dict[str, Any]]] = {}  # channel -> posted messages, oldest first
        self.reactions: dict[tuple[str, str], list[str]] = {}  # (channel, ts) -> the bot's reactions, by name
        self._hold: tuple[str, Callable[[Call], bool]] | None = None
        self._released = asyncio.Event()
        self.held: list[Call] = []

    def hold(self, method: str, where: Callable[[Call], bool] = lambda c: True) -> None:
        """Do the next matching call's work but keep its answer back until `release()` (then stop holding)."""
        self._hold, self._released = (method, where), asyncio.Event()

    def release(self) -> None:
        self._hold = None
        self._released.set()

    def posted(self, channel: str, thread: str | None = None) -> list[dict[str, Any]]:
        """Messages the bot has in `channel` (in `thread`, if given), oldest first."""
        return [m for m in self.messages.get(channel, []) if thread is None or m.get("thread_ts") == thread]

    # ---- scripting ------------------------------------------------------------------------------------------
    def fail_next(self, n: int = 1, *, status: int = 429, retry_after: int | None = 0, method: str | None = None,
                  error: str | None = None, after: int = 0) -> None:
        """Answer the next `n` calls (to `method`, or any) with `status`; status 200 + `error` gives ok=false.
        `after`: let that many matching calls succeed first (e.g. fail the second part of a long message)."""
        self._failures.extend(_Failure(method, status, retry_after, error, after) for _ in range(n))

    # ---- reading ----------------------------------------------------------------------------------------------
    def called(self, method: str, status: int | None = 200) -> list[Call]:
        return [c for c in self.calls if c.method == method and (status is None or c.status == status)]

    async def wait_for(self, method: str, where: Callable[[Call], bool] = lambda c: True,
                       timeout: float = 5.0, count: int = 1) -> Call:
        """Wait until `count` successful calls to `method` match `where`; return the last one."""
        def matched() -> list[Call]:
            return [c for c in self.called(method) if where(c)]

        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(lambda: len(matched()) >= count), timeout)
            except TimeoutError:
                seen = [(c.method, c.status) for c in self.calls]
                raise AssertionError(f"no {count} matching {method} call(s) within {timeout}s; calls: {seen}")
        return matched()[count - 1]

    # ---- server -----------------------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/api/"

    def response_url(self, key: str = "r") -> str:
        return f"http://{self.host}:{self.port}/respond/{key}"

    async def start(self) -> "FakeSlackAPI":
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_post("/respond/{key}", self._respond)
        app.router.add_get("/socket", self._socket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        for ws in self._sockets:
            await ws.close()
        if self._runner:
            await self._runner.cleanup()

    async def __aenter__(self) -> "FakeSlackAPI":
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    async def _record(self, call: Call) -> None:
        async with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            params.update(await request.json())
        elif request.can_read_body:
            params.update(dict(await request.post()))
        for key, value in list(params.items()):  # form-encoded JSON fields, as slack_sdk sends blocks/files
            if key in {"blocks", "files", "view", "attachments", "metadata"} and isinstance(value, str):
                try:
                    params[key] = json.loads(value)
                except ValueError:
                    pass
        return params

    def _take_failure(self, method: str) -> _Failure | None:
        for i, failure in enumerate(self._failures):
            if failure.method in (None, method):
                if failure.after:
                    failure.after -= 1
                    return None
                return self._failures.pop(i)
        return None

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._params(request)
        failure = self._take_failure(method)
        if failure and failure.status != 200:
            await self._record(Call(method, params, failure.status))
            headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else {}
            if failure.status == 429:
                return web.json_response({"ok": False, "error": "ratelimited"}, status=429, headers=headers)
            return web.Response(status=failure.status, text="upstream trouble", headers=headers)
        if failure:
            await self._record(Call(method, params, 200))
            return web.json_response({"ok": False, "error": failure.error or "fatal_error"})
        call = Call(method, params)
        await self._record(call)
        answer = self._answer(method, params)
        if self._hold and self._hold[0] == method and self._hold[1](call):
            self.held.append(call)
            async with self._changed:
                self._changed.notify_all()
            await self._released.wait()
        return web.json_response(answer)

    async def wait_held(self, timeout: float = 10.0) -> Call:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: bool(self.held)), timeout)
        return self.held[-1]

    @staticmethod
    def _flag(value: Any) -> bool:
        return value in (True, 1, "1", "true", "True")

    def _before(self, message: dict[str, Any], p: dict[str, Any]) -> bool:
        """Whether a message is within a listing's `latest` (inclusive or not, as Slack)."""
        if not p.get("latest"):
            return True
        ts, latest = float(message["ts"]), float(p["latest"])
        return ts <= latest if self._flag(p.get("inclusive")) else ts < latest

    def _listed(self, message: dict[str, Any], with_metadata: bool) -> dict[str, Any]:
        return {k: v for k, v in message.items() if k != "metadata" or with_metadata}

    def _answer(self, method: str, p: dict[str, Any]) -> dict[str, Any]:
        ok: dict[str, Any] = {"ok": True}
        if method == "auth.test":
            return ok | {"url": "https://acme.slack.com/", "team": "Acme", "user": "tandem", "team_id": TEAM,
                         "user_id": BOT_USER, "bot_id": BOT_ID}
        if method == "chat.postMessage":
            ts = f"{1700000000 + next(self._ts)}.000100"
            message = {"type": "message", "text": p.get("text", ""), "user": BOT_USER, "bot_id": BOT_ID, "ts": ts}
            if p.get("thread_ts"):
                message["thread_ts"] = p["thread_ts"]
            if isinstance(p.get("metadata"), dict):
                message["metadata"] = p["metadata"]
            self.messages.setdefault(str(p.get("channel")), []).append(message)
            return ok | {"channel": p.get("channel"), "ts": ts, "message": message}
        if method == "conversations.history":  # newest first, top-level messages, up to `latest` if given
            found = [m for m in self.messages.get(str(p.get("channel")), [])
                     if ("thread_ts" not in m or m["thread_ts"] == m["ts"]) and self._before(m, p)]
            limit = int(p.get("limit") or 100)
            return ok | {"messages": [self._listed(m, self._flag(p.get("include_all_metadata")))
                                      for m in reversed(found)][:limit], "has_more": False}
        if method == "conversations.replies":  # the thread, oldest first
            found = [m for m in self.messages.get(str(p.get("channel")), [])
                     if m.get("thread_ts") == p.get("ts") or m["ts"] == p.get("ts")]
            if p.get("latest"):  # Slack: the thread's parent comes first, then replies up to `latest`
                found = found[:1] + [m for m in found[1:] if self._before(m, p)]
            return ok | {"messages": [self._listed(m, self._flag(p.get("include_all_metadata"))) for m in found],
                         "has_more": False}
        if method in ("reactions.add", "reactions.remove"):  # the bot's reactions, with Slack's errors
            mine = self.reactions.setdefault((str(p.get("channel")), str(p.get("timestamp"))), [])
            name = str(p.get("name"))
            if method == "reactions.add":
                if name in mine:
                    return {"ok": False, "error": "already_reacted"}
                mine.append(name)
            elif name not in mine:
                return {"ok": False, "error": "no_reaction"}
            else:
                mine.remove(name)
            return ok
        if method == "chat.update":
            return ok | {"channel": p.get("channel"), "ts": p.get("ts"), "text": p.get("text", "")}
        if method == "chat.postEphemeral":
            return ok | {"message_ts": f"{1700000000 + next(self._ts)}.000200"}
        if method == "views.open":
            return ok | {"view": {"id": f"V{next(self._ids):04d}", "hash": f"h{next(self._ids)}",
                                  **(p.get("view") or {})}}
        if method == "views.update":  # Slack refuses an update whose hash is not the view's latest
            if not p.get("view_id") or not p.get("hash"):
                return {"ok": False, "error": "invalid_arguments"}
            return ok | {"view": {"id": p["view_id"], "hash": f"h{next(self._ids)}", **(p.get("view") or {})}}
        if method == "users.info":
            uid = p.get("user", "U0")
            return ok | {"user": {"id": uid, "name": uid.lower(), "real_name": f"User {uid}", "team_id": TEAM}}
        if method == "conversations.info":
            return ok | {"channel": {"id": p.get("channel"), "name": "support", "is_channel": True}}
        if method == "apps.connections.open":
            return ok | {"url": f"ws://{self.host}:{self.port}/socket"}
        if method == "files.getUploadURLExternal":
            file_id = f"F{next(self._ids):04d}"
            return ok | {"upload_url": f"http://{self.host}:{self.port}/upload/{file_id}", "file_id": file_id}
        if method == "files.completeUploadExternal":
            return ok | {"files": [{"id": f.get("id"), "title": f.get("title")} for f in p.get("files", [])]}
        return {"ok": False, "error": "unknown_method"}

    async def _upload(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        self.uploads[file_id] = await request.read()
        await self._record(Call("upload", {"file_id": file_id, "size": len(self.uploads[file_id])}))
        return web.Response(text="OK - 1")

    async def _respond(self, request: web.Request) -> web.Response:
        params = await self._params(request)
        await self._record(Call("response_url", params | {"key": request.match_info["key"]}))
        return web.Response(text="ok")

    # ---- Socket Mode ------------------------------------------------------------------------------------------
    async def socket_send(self, envelope: dict[str, Any], timeout: float = 5.0) -> None:
        """Push a Socket Mode envelope to the connected app (waits for the connection)."""
        deadline = time.monotonic() + timeout
        while not any(not ws.closed for ws in self._sockets):
            if time.monotonic() > deadline:
                raise AssertionError("no Socket Mode connection")
            await asyncio.sleep(0.01)
        for ws in self._sockets:
            if not ws.closed:
                await ws.send_json(envelope)

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_json({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0TANDEM"}})
        async for msg in ws:
            if msg.type == web.WSMsgType.TEXT:
                await self._record(Call("socket_ack", json.loads(msg.data)))
        return ws
