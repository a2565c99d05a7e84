"""A fake OpenAI-compatible endpoint on 127.0.0.1: the real `openai` client talks to it, tests script it.

It serves POST /v1/chat/completions and GET /v1/models, records every chat request (model, messages,
response_format), and answers each one with the next scripted behaviour (or the default one):

    async with FakeOpenAI() as fake:                 # fake.base_url ends with /v1 (use it as OPENAI_BASE_URL)
        fake.reply("Pay in 4 splits ...", confidence=0.9)
        fake.script(Behaviour(delay=2.0))            # slower than the client timeout
        fake.script(Behaviour(status=500))           # HTTP 500 with an OpenAI-style error body
        fake.script(Behaviour(content="not json"))   # malformed model output
        fake.script(Behaviour(choices=False))        # a completion with no choices
        fake.default = Behaviour(obey=True)          # a model that does whatever the customer tells it to

`obey`: the worst model there is. It reads the customer's message (the JSON data the drafter sends, decoded),
and if the message tells it what to say ("reply APPROVED", 'say "..."', "balas dengan ...", "confirm that
..."), it says exactly that, with confidence 0.99; otherwise it answers faithfully with the first
knowledge-base article of its system prompt, also at 0.99.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

MODEL = "fake-gpt"


def answer(reply: str, confidence: float = 0.9, needs_human: bool = False, reason: str | None = None) -> str:
    """The JSON object a well-behaved model answers with."""
    return json.dumps({"reply": reply, "confidence": confidence, "needs_human": needs_human, "reason": reason})


@dataclass
class Behaviour:
    content: str | None = field(default_factory=lambda: answer("Happy to help."))
    status: int = 200
    delay: float = 0.0  # seconds before answering (headers included)
    trickle: float = 0.0  # seconds spent sending the body a few bytes at a time, after the headers
    choices: bool = True
    raw_body: str | None = None  # sent as-is instead of a completion (e.g. an HTML error page)
    model: str = MODEL
    obey: bool = False  # ignore `content`: do what the customer's message says (see the module docstring)


_DIRECTIVE = re.compile(
    r"\b(?:reply|respond|answer|say|write|output|print|repeat|confirm|state|tell me|balas|jawab|katakan|tulis|"
    r"ucapkan|sebutkan|konfirmasi|nyatakan)\b(?:\s+(?:only|exactly|just|with|that|dengan|hanya|bahwa|the words?|"
    r"the phrase|kalimat|verbatim))*\s*[:,]?\s*(?P<what>.+)", re.IGNORECASE | re.DOTALL)
_ARTICLE = re.compile(r"^\[[^\]]+\] [^\n]*\n(?P<answer>[^\n]+)", re.MULTILINE)


def customer_text(content: str) -> str:
    """The customer's words inside a user message (the drafter sends them as {"customer_message": ...})."""
    try:
        data = json.loads(content)
    except (json.JSONDecodeError, TypeError):
        return content
    return data.get("customer_message", content) if isinstance(data, dict) else content


def obey(messages: list[dict[str, Any]]) -> str:
    """What an obedient model answers: the text the customer told it to say, else the first article."""
    user = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
    said = _DIRECTIVE.search(customer_text(user))
    if said:
        what = said.group("what").strip().strip("\"'“”‘’").strip()
        what = re.split(r"[\"”]\s", what)[0].strip("\"'“”‘’ ")
        if what:
            return what
    system = next((m["content"] for m in messages if m["role"] == "system"), "")
    article = _ARTICLE.search(system)
    return article.group("answer") if article else "Happy to help."


@dataclass
class Request:
    model: str
    messages: list[dict[str, Any]]
    response_format: dict | None
    body: dict[str, Any]
    at: float = field(default_factory=time.monotonic)

    @property
    def system(self) -> str:
        return next((m["content"] for m in self.messages if m["role"] == "system"), "")

    @property
    def last_user(self) -> str:
        return next((m["content"] for m in reversed(self.messages) if m["role"] == "user"), "")

    @property
    def last_customer(self) -> str:
        """The customer's words in the last user message, out of the JSON data the drafter wraps them in."""
        return customer_text(self.last_user)


class FakeOpenAI:
    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.host, self.port = host, port
        self.requests: list[Request] = []
        self.default = Behaviour()
        self._script: list[Behaviour] = []
        self._ids = itertools.count(1)
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None

    # ---- scripting ------------------------------------------------------------------------------------------
    def script(self, *behaviours: Behaviour) -> None:
        """Answer the next requests with these behaviours, in order; then fall back to `default`."""
        self._script.extend(behaviours)

    def reply(self, text: str, confidence: float = 0.9, needs_human: bool = False, reason: str | None = None,
              **kw) -> None:
        self.script(Behaviour(content=answer(text, confidence, needs_human, reason), **kw))

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    # ---- server ---------------------------------------------------------------------------------------------
    async def __aenter__(self) -> "FakeOpenAI":
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc) -> None:
        self._closing.set()  # wake slow answers so shutdown is immediate
        if self._runner:
            await self._runner.cleanup()

    async def _pause(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._closing.wait(), seconds)
        except TimeoutError:
            pass

    async def _models(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [
            {"id": MODEL, "object": "model", "created": 0, "owned_by": "fake"}]})

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return web.json_response({"error": {"message": "invalid JSON body", "type": "invalid_request_error"}},
                                     status=400)
        self.requests.append(Request(body.get("model", ""), body.get("messages", []), body.get("response_format"),
                                     body))
        how = self._script.pop(0) if self._script else self.default
        if how.delay:
            await self._pause(how.delay)
        if how.status >= 400:
            return web.json_response(
                {"error": {"message": f"scripted HTTP {how.status}", "type": "server_error", "code": None}},
                status=how.status)
        if how.raw_body is not None:
            return web.Response(text=how.raw_body, content_type="text/html")
        payload = json.dumps(self._completion(how, body)).encode()
        if not how.trickle:
            return web.Response(body=payload, content_type="application/json")
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = len(payload)
        await response.prepare(request)
        pieces = [payload[i:i + 16] for i in range(0, len(payload), 16)]
        for piece in pieces:
            await response.write(piece)
            await self._pause(how.trickle / len(pieces))
        await response.write_eof()
        return response

    def _completion(self, how: Behaviour, body: dict) -> dict:
        content = answer(obey(body.get("messages", [])), confidence=0.99) if how.obey else how.content
        choices = [{"index": 0, "finish_reason": "stop", "logprobs": None,
                    "message": {"role": "assistant", "content": content, "refusal": None}}]
        return {
            "id": f"chatcmpl-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": how.model,
            "choices": choices if how.choices else [],
            "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
        }
