"""A reply reaches the customer once, even when Tandem dies between the platform call and its confirmation.

The outbox marks a row `sending` before the platform call. A new process finds the row still `sending`:
on Slack it looks for the row's key in the thread's message metadata and marks it sent if it is there; on
Discord it sends again with the same nonce and Discord (here its fake) returns the message it already has.
The last test kills a real `tandem run` with SIGKILL while Slack is holding its answer, and restarts it.
"""
from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time

import aiohttp
import pytest

from tandem.runtime import open_store
from tests.conftest import FIXTURE_KB
from tests.discord_harness import Desk, until as until_soon
from tests.fakes.discord_fake import FakeDiscord
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.slack_client import AGENT, AGENTS, LEAD, SECRET, SUPPORT, SlackHarness
from tests.test_discord_flows import ask, conv_address

QUESTION = "Can I change my payment due date?"
REPLY = "Your refund is on its way, Ann."
REPO = FIXTURE_KB.parents[2]


def reply_rows(store) -> list[dict]:
    return [r for r in store.outbox_rows() if r["kind"] == "send_message" and REPLY in r["payload"]]


@pytest.fixture
async def api():
    fake = await FakeSlackAPI().start()
    yield fake
    fake.release()
    await fake.stop()


async def die_while_slack_holds_the_reply(tmp_path, api, *, lookup_error: str | None = None):
    """A customer asks, an agent replies, and the core stops while Slack holds chat.postMessage's answer:
    Slack has posted the reply, Tandem never heard back. `lookup_error`: the first conversations.replies after
    the restart fails with it. Returns the customer's ts, the held call and the stopped harness."""
    async with SlackHarness(tmp_path, api=api) as slack:
        ts = await slack.say(QUESTION)
        await slack.settle()
        if lookup_error:
            api.fail_next(1, status=200, error=lookup_error, method="conversations.replies")
        api.hold("chat.postMessage", lambda c: c.params.get("channel") == SUPPORT)
        await slack.command(f"reply 1 {REPLY}")
        held = await api.wait_held()
        await slack.core.stop()
    return ts, held, slack


async def test_slack_reply_in_flight_when_the_core_died_is_found_not_resent(tmp_path, api):
    ts, held, slack = await die_while_slack_holds_the_reply(tmp_path, api)
    assert held.params["metadata"]["event_type"] == "tandem_outbox"
    assert reply_rows(slack.core.store)[0]["status"] == "sending"
    api.release()
    async with SlackHarness(tmp_path, api=api) as again:  # a new process on the same database
        await again.settle()
        assert [m["text"] for m in api.posted(SUPPORT, ts)].count(REPLY) == 1
        row = reply_rows(again.core.store)[0]
        assert row["status"] == "sent" and row["ref"] == api.posted(SUPPORT, ts)[0]["ts"]
        assert api.called("conversations.replies")


async def test_slack_reply_not_posted_before_the_crash_is_sent_after_it(tmp_path, api):
    ts, _, _ = await die_while_slack_holds_the_reply(tmp_path, api, lookup_error="fatal_error")
    api.messages[SUPPORT].clear()  # as if Slack never kept it
    api.release()
    async with SlackHarness(tmp_path, api=api) as again:
        await again.settle()  # the first look fails: the row stays in flight, and the retry looks again
        await asyncio.sleep(0)
        again.core.store.db.execute("UPDATE outbox SET next_attempt_at = ? WHERE status = 'sending'",
                                    (again.core.store.now(),))
        again.core.wake_outbox()
        await again.settle()
        assert [m["text"] for m in api.posted(SUPPORT, ts)].count(REPLY) == 1
        assert reply_rows(again.core.store)[0]["status"] == "sent"


@pytest.fixture
async def fake():
    f = await FakeDiscord().start()
    yield f
    f.release()
    await f.stop()


async def test_discord_reply_in_flight_when_the_core_died_is_not_posted_twice(fake, tmp_path):
    db = str(tmp_path / "tandem.db")
    desk = await Desk(fake, db).start()
    w = desk.world
    msg = await ask(desk)
    conv = desk.core.store.latest_conversation_at(conv_address(w, msg))
    fake.hold("POST", rf"/channels/{msg['id']}/messages")
    await fake.dispatch("INTERACTION_CREATE", w.slash(w.agent, "reply", {"conversation": conv.id, "text": REPLY}))
    held = await fake.wait_held()
    assert held.json["nonce"] and held.json["enforce_nonce"] is True and len(held.json["nonce"]) <= 25
    await desk.core.stop()  # dies before the answer arrives
    await desk.adapter.stop()
    fake.release()
    again = await Desk(fake, db).start()
    try:
        # the outbox may try before discord.py is ready; that attempt is retried a second later
        await until_soon(lambda: reply_rows(again.core.store)[0]["status"] == "sent", timeout=10,
                         what="reply marked sent")
        assert [m["content"] for m in fake.posted(msg["id"])].count(REPLY) == 1
        assert len(fake.find("POST", rf"/channels/{msg['id']}/messages")) == 2, "sent again, under the same nonce"
        assert reply_rows(again.core.store)[0]["status"] == "sent"
    finally:
        await again.stop()


# ---- a real process, killed with SIGKILL ----------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def start_tandem(tmp_path, api: FakeSlackAPI) -> tuple[asyncio.subprocess.Process, str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TANDEM_", "OPENAI_", "SLACK_", "DISCORD_"))}
    env.update(PYTHONPATH=str(REPO), TANDEM_DB=str(tmp_path / "tandem.db"), TANDEM_KB=str(FIXTURE_KB),
               TANDEM_SUPPORT_HOURS="24/7", SLACK_BOT_TOKEN="xoxb-test", SLACK_SIGNING_SECRET=SECRET,
               SLACK_API_URL=api.base_url, SLACK_SUPPORT_CHANNELS=SUPPORT, SLACK_AGENT_CHANNEL=AGENTS,
               SLACK_AGENT_USERS=AGENT, SLACK_LEAD_USERS=LEAD, TANDEM_HTTP_PORT=str(port))
    log = open(tmp_path / f"tandem-{port}.log", "w")
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "tandem.cli", "run", cwd=tmp_path, env=env,
                                                stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(url + "/healthz") as resp:
                    if resp.status == 200:
                        return proc, url
            except aiohttp.ClientError:
                pass
            if proc.returncode is not None or time.monotonic() > deadline:
                raise AssertionError("tandem run did not come up: " + (tmp_path / f"tandem-{port}.log").read_text())
            await asyncio.sleep(0.1)


async def until(check, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
    return value


async def test_tandem_killed_while_slack_holds_the_reply_sends_it_once(tmp_path, api):
    client = SlackHarness(tmp_path, api=api)  # only its signed request builders
    proc, client.url = await start_tandem(tmp_path, api)
    client.session = aiohttp.ClientSession()
    try:
        ts = await client.say(QUESTION)
        await api.wait_for("chat.postMessage", lambda c: c.params.get("channel") == AGENTS, timeout=30)
        api.hold("chat.postMessage", lambda c: c.params.get("channel") == SUPPORT)
        status, _ = await client.command(f"reply 1 {REPLY}")
        assert status == 200
        await api.wait_held(timeout=30)
        proc.send_signal(signal.SIGKILL)  # between Slack's acceptance and Tandem hearing of it
        await proc.wait()
        api.release()
        proc, client.url = await start_tandem(tmp_path, api)
        store = open_store(str(tmp_path / "tandem.db"))
        await until(lambda: reply_rows(store) and reply_rows(store)[0]["status"] == "sent", what="reply marked sent")
        assert [m["text"] for m in api.posted(SUPPORT, ts)].count(REPLY) == 1
        assert reply_rows(store)[0]["ref"] == [m for m in api.posted(SUPPORT, ts) if m["text"] == REPLY][0]["ts"]
    finally:
        await client.session.close()
        if proc.returncode is None:
            proc.terminate()
            await asyncio.wait_for(proc.wait(), 30)


async def test_slack_long_reply_cut_off_mid_way_resumes_after_the_parts_slack_has(tmp_path, api):
    paragraphs = [f"Paragraph {n}: " + ("word " * 700).strip() for n in range(3)]  # one Slack message each
    long_reply = "\n\n".join(paragraphs)

    def second_part(call) -> bool:
        return call.params.get("channel") == SUPPORT and call.params.get("text", "").startswith("Paragraph 1")

    async with SlackHarness(tmp_path, api=api) as slack:
        ts = await slack.say(QUESTION)
        await slack.settle()
        api.hold("chat.postMessage", second_part)
        await slack.command(f"reply 1 {long_reply}")
        await api.wait_held()
        await slack.core.stop()  # parts 0 and 1 are on Slack; Tandem heard back only about part 0
    api.release()
    async with SlackHarness(tmp_path, api=api) as again:
        await again.settle()
        posted = [m["text"] for m in api.posted(SUPPORT, ts)]
        assert [p.split(":")[0] for p in posted] == ["Paragraph 0", "Paragraph 1", "Paragraph 2"]
        row = [r for r in again.core.store.outbox_rows() if "Paragraph 0" in r["payload"]][0]
        assert row["status"] == "sent" and row["ref"] == api.posted(SUPPORT, ts)[0]["ts"]


async def test_slack_first_card_in_flight_when_the_core_died_is_not_posted_twice(tmp_path, api):
    async with SlackHarness(tmp_path, api=api) as slack:
        api.hold("chat.postMessage", lambda c: c.params.get("channel") == AGENTS)
        await slack.say(QUESTION)
        await api.wait_held()
        await slack.core.stop()
    api.release()
    async with SlackHarness(tmp_path, api=api) as again:
        await again.settle()
        assert len(api.posted(AGENTS)) == 1, "one review card"
        conv = again.core.store.conversation(1)
        assert conv.card_ref == api.posted(AGENTS)[0]["ts"], "the card found is the one updated from now on"
        assert api.called("conversations.history")


async def test_slack_lookup_refused_for_good_sends_rather_than_holds_the_reply_forever(tmp_path, api):
    ts, _, _ = await die_while_slack_holds_the_reply(tmp_path, api, lookup_error="missing_scope")
    api.messages[SUPPORT].clear()  # Slack did not keep it
    api.release()
    async with SlackHarness(tmp_path, api=api) as again:
        await again.settle()
        assert [m["text"] for m in api.posted(SUPPORT, ts)] == [REPLY]
        assert reply_rows(again.core.store)[0]["status"] == "sent"
