"""Response-time alerts and round robin as people see them, the parts that need a restart or a race: a target
warned and breached by time travel, neither alert repeated by a new process on the same database, an alert
the reply overtook dropped, and three agents on duty with one going off duty. The console, and the real Slack
and Discord clients against their fakes (tests/test_sla_platforms.py has the first assignment and warning).
"""
from __future__ import annotations

import pytest

from tests.conftest import Clock, make_settings, start_console
from tests.discord_harness import Desk, until
from tests.fakes import discord_payloads as P
from tests.fakes.discord_fake import FakeDiscord
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.slack_client import AGENT, AGENTS, LEAD, SlackHarness
from tests.test_sla_platforms import SLA, slash
from tandem.runtime import build_core
from vocab import AuditAction

HUMAN = "I want to talk to a human please"


def alerts(lines: list[str], conversation: int) -> list[str]:
    """The response-time alerts about `conversation` among what agents were shown (⏰ warning, 🚨 breach)."""
    return [line for line in lines if f"⏰ #{conversation} " in line or f"🚨 #{conversation} " in line]


def dropped(core) -> list[dict]:
    return [r for r in core.store.outbox_rows() if r["status"] == "dropped" and r["kind"] == "notify_agents"]


# ---- the console ---------------------------------------------------------------------------------------------
async def test_console_round_robin_off_duty_breach_across_a_restart_and_a_stale_alert(tmp_path):
    clock = Clock()
    settings = make_settings(tmp_path, tandem_sla_first_response="10m")
    core = build_core(settings, clock=clock)
    console, out = await start_console(core)  # the console's agent, ana, is a lead
    try:
        for line in ("/duty on", "/duty on ben", "/duty on cy"):  # in turn: the longest on duty first
            assert (await console.handle_line(line)).ok
            clock.advance(seconds=1)
        for who in ("c1", "c2", "c3"):
            await console.handle_line(f"{who}> {HUMAN}")
            await core.wait_idle()
            clock.advance(minutes=1)
        assert [core.store.conversation(i).assignee for i in (1, 2, 3)] == ["ana", "ben", "cy"]
        assert "🔔 @ben: #2 (c2) is assigned to you (handed off)." in out.getvalue()
        off = await console.handle_line("/duty off ben")
        assert off.ok and "#2" in off.text and core.store.conversation(2).assignee == "ana"  # next in turn
        assert "🔔 @ana: #2 (c2) is assigned to you (ben went off duty)." in out.getvalue()

        clock.advance(minutes=5)  # #1 waited 8 minutes: warned
        await core.wait_idle()
        (warning,) = alerts(out.getvalue().splitlines(), 1)
        assert "🔔 @ana: ⏰ #1 (c1): reply due in 2m" in warning
        clock.advance(minutes=1)
        assert core.sla.check() == 1  # #2's warning is queued ...
        assert (await console.handle_line("/reply 2 On it.")).ok  # ... and the reply goes out before it
        assert len(dropped(core)) == 1 and not alerts(out.getvalue().splitlines(), 2)
    finally:
        await core.stop()

    core = build_core(settings, clock=clock)  # a new process on the same database
    console, out = await start_console(core)
    try:
        await core.wait_idle()
        assert not alerts(out.getvalue().splitlines(), 1)  # the warning is not repeated
        clock.advance(minutes=2)  # #1 is due
        await core.wait_idle()
        (breach,) = alerts(out.getvalue().splitlines(), 1)
        assert "🔔 @ana: 🚨 #1 (c1)" in breach
        clock.advance(hours=1)
        await core.wait_idle()
        assert len(alerts(out.getvalue().splitlines(), 1)) == 1 and not alerts(out.getvalue().splitlines(), 2)
    finally:
        await core.stop()


# ---- Slack ---------------------------------------------------------------------------------------------------
AGENT2 = "UAGENT2"


async def test_slack_round_robin_off_duty_breach_across_a_restart_and_a_stale_alert(tmp_path):
    clock = Clock()
    api = await FakeSlackAPI().start()
    team = {"slack_agent_users": f"{AGENT},{AGENT2}"}
    try:
        async with SlackHarness(tmp_path, core=SLA, clock=clock, api=api, **team) as h:
            await h.command("duty on")
            for who in (LEAD, AGENT2):
                clock.advance(seconds=1)
                await h.command(f"duty on {who}", user=LEAD)
            for n in range(3):
                await h.say(HUMAN, user=f"UCUST{n + 1}")
                await h.settle()
                clock.advance(minutes=1)
            owners = [h.core.store.conversation(i).assignee_id for i in (1, 2, 3)]
            assert owners == [AGENT, LEAD, AGENT2]
            card = {i: h.core.store.conversation(i).card_ref for i in (1, 2, 3)}
            await h.command(f"duty off {LEAD}", user=LEAD)
            await h.settle()
            assert h.core.store.conversation(2).assignee_id == AGENT  # the next in turn
            assert h.replies(thread=card[2], channel=AGENTS)[-1].startswith(f"<@{AGENT}> #2 ")
            for line, who, says in (("queue mine", AGENT2, "#3 "), ("queue unassigned", AGENT, "is assigned"),
                                    ("duty", AGENT, AGENT2)):
                await h.command(line, user=who)
                await h.settle()
                assert says in h.answers(who)[-1] and LEAD not in h.answers(who)[-1], line

            clock.advance(minutes=5)  # #1 waited 8 minutes: warned
            await h.settle()
            assert len(alerts(h.replies(thread=card[1], channel=AGENTS), 1)) == 1
            api.fail_next(3, status=500, method="chat.postMessage")  # the SDK's own two retries fail too
            clock.advance(minutes=1)  # #2 waited 8 minutes: its warning fails at first
            await h.settle()
            assert not alerts(h.replies(thread=card[2], channel=AGENTS), 2)
            await h.command("reply 2 On it.")  # the reply overtakes the alert's retry
            await h.settle()
            clock.advance(seconds=30)
            await h.settle()
            assert not alerts(h.replies(thread=card[2], channel=AGENTS), 2) and len(dropped(h.core)) == 1

        async with SlackHarness(tmp_path, core=SLA, clock=clock, api=api, **team) as h:  # a new process
            await h.settle()
            assert len(alerts(h.replies(thread=card[1], channel=AGENTS), 1)) == 1  # not repeated
            clock.advance(minutes=2)
            await h.settle()
            shown = alerts(h.replies(thread=card[1], channel=AGENTS), 1)
            assert len(shown) == 2 and shown[1].startswith(f"<@{AGENT}> 🚨 #1 ")
        async with SlackHarness(tmp_path, core=SLA, clock=clock, api=api, **team) as h:
            clock.advance(hours=1)
            await h.settle()
            assert len(alerts(h.replies(thread=card[1], channel=AGENTS), 1)) == 2
            assert len(h.core.store.events_named(AuditAction.SLA_BREACH)) == 2  # #1, and #3 (nobody replied)
            await h.command("reply 1 Sorry for the wait.")  # an hour past the target
            await h.command("digest", user=LEAD)
            await h.settle()
            digest = h.answers(LEAD)[-1]
            assert "first reply: 33% met (1 of 3), missed by a median of 1h" in digest
            assert f"missed, by agent: {AGENT} 1, {AGENT2} 1" in digest
    finally:
        await api.stop()


# ---- Discord -------------------------------------------------------------------------------------------------
@pytest.fixture
async def fake():
    f = await FakeDiscord().start()
    yield f
    await f.stop()


def thread_texts(fake: FakeDiscord, card_id: str) -> list[str]:
    """What the bot has in the card's thread (a failed post is not there)."""
    return [m["content"] for m in fake.posted(card_id)]


async def test_discord_round_robin_off_duty_breach_across_a_restart_and_a_stale_alert(fake, tmp_path):
    clock = Clock()
    w = fake.world
    erin = P.Person("1100000000000000105", "erin", [w.agent_role])
    db = str(tmp_path / "t.db")
    desk = await Desk(fake, db, clock=clock, **SLA).start()
    try:
        await slash(desk, w.agent, "duty", {"state": "on"})
        for person in (w.lead, erin):
            clock.advance(seconds=1)
            await slash(desk, w.lead, "duty", {"state": "on"}, member=person)
        for n in range(3):
            await desk.send("MESSAGE_CREATE", w.customer_message(w.support_channel, f"{HUMAN} ({n})"))
            await desk.idle()
            clock.advance(minutes=1)
        store = desk.core.store
        assert [store.conversation(i).assignee_id for i in (1, 2, 3)] == [w.agent.id, w.lead.id, erin.id]
        card = {i: store.conversation(i).card_ref for i in (1, 2, 3)}
        await slash(desk, w.lead, "duty", {"state": "off"})
        assert store.conversation(2).assignee_id == w.agent.id  # the next in turn
        await until(lambda: any(t.startswith(f"<@{w.agent.id}> #2 ") for t in thread_texts(fake, card[2])),
                    what="the agent told of #2")
        for sub, who, says in (("queue", erin, "#3 "), ("duty", w.agent, "Erin (1 open), Bob (2 open)")):
            await slash(desk, who, sub, {"which": "mine"} if sub == "queue" else {})
            answer = fake.find("POST", r"/webhooks/\d+/[^/]+")[-1].json["content"]
            assert says in answer and "#1 " not in answer and "Carol" not in answer, (sub, answer)

        clock.advance(minutes=5)  # #1 waited 8 minutes: warned
        await desk.idle()
        await until(lambda: alerts(thread_texts(fake, card[1]), 1), what="#1 warned")
        fake.fail("POST", rf"/channels/{card[2]}/messages", 503)
        clock.advance(minutes=1)  # #2 waited 8 minutes: its warning fails at first
        await desk.idle()
        assert not alerts(thread_texts(fake, card[2]), 2)
        await slash(desk, w.agent, "reply", {"conversation": 2, "text": "On it."})  # overtakes the retry
        clock.advance(seconds=30)
        await desk.idle()
        assert not alerts(thread_texts(fake, card[2]), 2) and len(dropped(desk.core)) == 1
    finally:
        await desk.stop()

    desk = await Desk(fake, db, clock=clock, **SLA).start()  # a new process on the same database
    try:
        await desk.idle()
        assert len(alerts(thread_texts(fake, card[1]), 1)) == 1  # not repeated
        clock.advance(minutes=2)
        await desk.idle()
        await until(lambda: len(alerts(thread_texts(fake, card[1]), 1)) == 2, what="#1 breached")
        assert alerts(thread_texts(fake, card[1]), 1)[1].startswith(f"<@{w.agent.id}> 🚨 #1 ")
        clock.advance(hours=1)
        await desk.idle()
        assert len(alerts(thread_texts(fake, card[1]), 1)) == 2
    finally:
        await desk.stop()
