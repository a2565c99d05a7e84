"""What an unauthenticated client can hold on the Slack HTTP server is bounded: slow headers are closed,
an oversize Content-Length gets 413 before any of the body is read, a stalled body is dropped after the
body timeout, large bodies beyond the cap get 503, and a real signed request is answered during all this.
Raw sockets on 127.0.0.1, bounded counts and times (memory figures: bench/slow_clients.py)."""
from __future__ import annotations

import asyncio

import pytest

from tests.fakes.slack_client import SlackHarness

QUESTION = "Can I change my payment due date?"
LIMITS = {"tandem_http_header_timeout": 0.5, "tandem_http_body_timeout": 0.5, "tandem_http_large_bodies": 2}


@pytest.fixture
async def slack(tmp_path):
    async with SlackHarness(tmp_path, **LIMITS) as harness:
        yield harness


async def open_conn(slack, head: str, body: bytes = b"") -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", slack.adapter.port)
    writer.write(head.encode() + body)
    await writer.drain()
    return reader, writer


def headers(length: int) -> str:
    return (f"POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"X-Slack-Request-Timestamp: 1\r\nX-Slack-Signature: v0=00\r\nContent-Length: {length}\r\n\r\n")


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> bytes:
    """Everything the server sent before closing; fails if it keeps the connection open longer."""
    try:
        return await asyncio.wait_for(reader.read(), seconds)
    except asyncio.TimeoutError:
        raise AssertionError(f"connection still open after {seconds}s") from None


async def test_slow_headers_are_closed(slack):
    reader, writer = await open_conn(slack, "POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    await closed_within(reader, 5)
    writer.close()


async def test_idle_connection_without_a_request_is_closed(slack):
    reader, writer = await open_conn(slack, "")
    await closed_within(reader, 5)
    writer.close()


async def test_oversize_content_length_gets_413_without_the_body_being_sent(slack):
    reader, writer = await open_conn(slack, headers(1_000_000))
    answer = await closed_within(reader, 5)  # no byte of the body was sent: the answer cannot wait for it
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    writer.close()


async def test_a_stalled_body_is_dropped_after_the_timeout(slack):
    reader, writer = await open_conn(slack, headers(5000), b"{" * 1000)
    answer = await closed_within(reader, 5)
    assert answer == b"" or answer.startswith(b"HTTP/1.1 408"), answer[:200]
    writer.close()


async def test_large_bodies_beyond_the_cap_get_503_at_once(slack):
    held = [await open_conn(slack, headers(200_000), b"{" * 100) for _ in range(2)]
    await asyncio.sleep(0.1)
    reader, writer = await open_conn(slack, headers(200_000), b"{" * 100)
    answer = await asyncio.wait_for(reader.read(), 0.4)  # before the body timeout frees a slot
    assert answer.startswith(b"HTTP/1.1 503"), answer[:200]
    for _, w in held + [(reader, writer)]:
        w.close()


async def test_a_real_request_is_answered_during_an_attack(slack):
    attack = []
    for i in range(60):
        if i % 3 == 0:
            attack.append(await open_conn(slack, "POST /slack/events HTTP/1.1\r\nHost: x\r\n"))
        elif i % 3 == 1:
            attack.append(await open_conn(slack, headers(1_000_000)))
        else:
            attack.append(await open_conn(slack, headers(200_000), b"{" * 50_000))
    await slack.say(QUESTION)  # asserts 200
    await slack.settle()
    assert slack.core.store._one("select count(*) n from inbox")["n"] == 1
    for _, writer in attack:
        writer.close()
