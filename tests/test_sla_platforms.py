"""Response-time alerts and on-duty routing as people see them: the console, and the real Slack and Discord
clients against their fakes. The store's clock is injected, so the tests travel in time instead of sleeping.
"""
from __future__ import annotations


import pytest

from tests.conftest import FIXTURE_KB, Clock, make_settings, start_console
from tests.discord_harness import Desk, card_of, until
from tests.fakes.discord_fake import FakeDiscord
from tests.fakes.slack_client import AGENT, AGENTS, LEAD, SUPPORT, SlackHarness
from tests.test_console import tandem
from tandem.runtime import build_core

SLA = {"tandem_sla_first_response": "10m", "tandem_support_hours": "24/7"}
HUMAN = "I want to talk to a human please"


# ---- the console ---------------------------------------------------------------------------------------------
async def test_console_duty_assignment_warning_and_queue(tmp_path):
    clock = Clock()
    core = build_core(make_settings(tmp_path, tandem_sla_first_response="10m"), clock=clock)
    console, out = await start_console(core)
    try:
        assert (await console.handle_line("/duty on")).text == "You are on duty now."
        await console.handle_line("bob> " + HUMAN)
        await core.wait_idle()
        shown = out.getvalue()
        assert "🔔 @ana: #1 (bob) is assigned to you (handed off)." in shown
        assert "⏱ reply due in 10m" in shown and "assigned to ana" in shown
        clock.advance(minutes=8)
        await core.wait_idle()
        assert "🔔 @ana: ⏰ #1 (bob): reply due in 2m (target: first reply within 10m 00s)." in out.getvalue()
        mine = await console.handle_line("/queue mine")
        assert mine.data["conversations"] == [1] and "reply due in 2m" in mine.text
        assert (await console.handle_line("/duty on ben")).ok  # the console's agent is a lead
        assert "ben (0 open), ana (1 open)" in (await console.handle_line("/duty")).text  # next in turn first
    finally:
        await core.stop()


def test_a_bad_duration_stops_tandem_run_with_one_line(tmp_path):
    env = {"TANDEM_DB": str(tmp_path / "t.db"), "TANDEM_KB": str(FIXTURE_KB), "TANDEM_SLA_NEXT_RESPONSE": "soon"}
    result = tandem("run", stdin="", env=env, cwd=tmp_path)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if "TANDEM_SLA_NEXT_RESPONSE" in line]
    assert len(lines) == 1 and "must be a duration such as 90s, 15m, 4h" in lines[0] and "'soon'" in lines[0]


# ---- Slack ---------------------------------------------------------------------------------------------------
async def test_slack_the_assignee_is_mentioned_in_the_card_thread_and_warned(tmp_path):
    clock = Clock()
    async with SlackHarness(tmp_path, core=SLA, clock=clock) as h:
        await h.command("duty on ULEAD1")
        await h.settle()
        assert "Only a lead" in h.answers()[-1]
        await h.command("duty on")
        await h.settle()
        assert h.answers()[-1] == "You are on duty now."

        await h.say(HUMAN)
        await h.settle()
        conv = h.core.store.conversation(1)
        assert conv.assignee == AGENT and conv.card_ref
        thread = h.replies(thread=conv.card_ref, channel=AGENTS)
        assert thread == [f"<@{AGENT}> #1 ({conv.customer}) is assigned to you (handed off)."]
        assert any("reply due in 10m" in str(b) for b in h.latest_card_blocks())

        clock.advance(minutes=8)
        await h.settle()
        thread = h.replies(thread=conv.card_ref, channel=AGENTS)
        assert len(thread) == 2 and thread[1].startswith(f"<@{AGENT}> ⏰ #1") and "reply due in 2m" in thread[1]
        assert any("reply due in 2m" in str(b) for b in h.latest_card_blocks())

        await h.command("reply 1 Hello, I can help with that.")
        await h.settle()
        assert "Hello, I can help" in h.replies(channel=SUPPORT)[-1]
        clock.advance(minutes=5)
        await h.settle()
        assert len(h.replies(thread=conv.card_ref, channel=AGENTS)) == 2  # answered: no breach

        await h.command(f"duty on {AGENT}", user=LEAD)
        await h.settle()
        assert h.answers(LEAD)[-1] == f"{AGENT} is already on duty; nothing changed."
        await h.command("queue all")
        await h.settle()
        assert "owned by UAGENT1" in h.answers()[-1]


async def test_slack_nobody_on_duty_alerts_the_channel_without_mentions(tmp_path):
    clock = Clock()
    async with SlackHarness(tmp_path, core=SLA, clock=clock) as h:
        await h.say(HUMAN)
        await h.settle()
        conv = h.core.store.conversation(1)
        clock.advance(minutes=11)
        await h.settle()
        (alert,) = h.replies(thread=conv.card_ref, channel=AGENTS)
        assert alert.startswith("🚨 #1") and "Nobody is on duty" in alert and "<@" not in alert


# ---- Discord -------------------------------------------------------------------------------------------------
@pytest.fixture
async def fake():
    f = await FakeDiscord().start()
    yield f
    await f.stop()


async def slash(desk: Desk, person, sub: str, options: dict | None = None, member=None) -> None:
    """A /tandem subcommand; `member`: a person picked in its `agent` option (a USER option, resolved)."""
    payload = desk.world.slash(person, sub, options)
    if member is not None:
        payload["data"]["options"][0]["options"].append({"name": "agent", "type": 6, "value": member.id})
        payload["data"]["resolved"] = {"users": {member.id: member.user}, "members": {member.id: member.member}}
    before = len(desk.fake.find("POST", r"/interactions/\d+/[^/]+/callback"))
    await desk.fake.dispatch("INTERACTION_CREATE", payload)
    await desk.fake.wait_for("POST", r"/interactions/\d+/[^/]+/callback", count=before + 1)
    await desk.idle()


async def test_discord_assignment_and_warning_ping_only_the_assignee_in_the_card_thread(fake, tmp_path):
    clock = Clock()
    desk = await Desk(fake, str(tmp_path / "t.db"), clock=clock, **SLA).start()
    w = desk.world
    try:
        await slash(desk, w.agent, "duty", {"state": "on"})
        name = desk.core.store.duty_agent("discord", w.guild_id, w.agent.id)["name"]
        assert name.lower() == "bob"  # the display name Discord gives
        await desk.send("MESSAGE_CREATE", w.customer_message(w.support_channel, HUMAN))
        await until(lambda: card_of(fake), what="the card")
        card = card_of(fake)
        await until(lambda: fake.posted(card["id"]), what="the notice in the card's thread")
        assert card["id"] in fake.threads  # a thread started from the card
        (notice,) = fake.find("POST", rf"/channels/{card['id']}/messages")
        customer = desk.core.store.conversation(1).customer
        assert notice.json["content"] == f"<@{w.agent.id}> #1 ({customer}) is assigned to you (handed off)."
        assert [str(u) for u in notice.json["allowed_mentions"]["users"]] == [w.agent.id]
        assert notice.json["allowed_mentions"]["parse"] == []
        conv = desk.core.store.conversation(1)
        assert conv.assignee == name and conv.assignee_id == w.agent.id

        clock.advance(minutes=8)
        await desk.idle()
        await until(lambda: len(fake.posted(card["id"])) == 2, what="the warning")
        warning = fake.find("POST", rf"/channels/{card['id']}/messages")[-1].json
        assert warning["content"].startswith(f"<@{w.agent.id}> ⏰ #1 ({customer}): reply due in 2m")
        fields = {f["name"]: f["value"] for f in card_of(fake)["embeds"][0]["fields"]}
        assert fields["Reply due"] == "reply due in 2m" and fields["Assignee"] == name

        await slash(desk, w.agent, "duty", {"state": "on"}, member=w.lead)
        answers = fake.find("POST", r"/webhooks/\d+/[^/]+")
        assert "Only a lead" in answers[-1].json["content"]
        await slash(desk, w.lead, "duty", {"state": "off"}, member=w.agent)
        assert fake.find("POST", r"/webhooks/\d+/[^/]+")[-1].json["content"] == f"{name} is off duty now."
        assert not desk.core.store.duty_agent("discord", w.guild_id, w.agent.id)["on_duty"]
    finally:
        await desk.stop()


# ---- nobody assigned: the alert mentions every agent on duty, or nobody ----------------------------------------
MANUAL = {**SLA, "tandem_assign": "manual"}


async def test_console_manual_assignment_alerts_every_agent_on_duty(tmp_path):
    clock = Clock()
    core = build_core(make_settings(tmp_path, tandem_sla_first_response="10m", tandem_assign="manual"), clock=clock)
    console, out = await start_console(core)
    try:
        await console.handle_line("/duty on")
        await console.handle_line("/duty on ben")
        await console.handle_line("bob> " + HUMAN)
        await core.wait_idle()
        assert core.store.conversation(1).assignee is None and "assigned to you" not in out.getvalue()
        clock.advance(minutes=8)
        await core.wait_idle()
        (warning,) = [line for line in out.getvalue().splitlines() if "⏰ #1" in line]
        assert set(warning.split(":")[0].split()[1:]) == {"@ana", "@ben"}
    finally:
        await core.stop()


async def test_slack_manual_assignment_alerts_every_agent_on_duty(tmp_path):
    clock = Clock()
    async with SlackHarness(tmp_path, core=MANUAL, clock=clock, slack_agent_users=f"{AGENT},UAGENT2") as h:
        await h.command("duty on")
        await h.command("duty on UAGENT2", user=LEAD)
        await h.say(HUMAN)
        await h.settle()
        conv = h.core.store.conversation(1)
        assert conv.assignee is None and not h.replies(thread=conv.card_ref, channel=AGENTS)
        clock.advance(minutes=8)
        await h.settle()
        (warning,) = h.replies(thread=conv.card_ref, channel=AGENTS)
        mentions, _, text = warning.partition(" ⏰ ")
        assert set(mentions.split()) == {f"<@{AGENT}>", "<@UAGENT2>"} and text.startswith("#1 ")


async def test_discord_nobody_on_duty_alerts_without_pings_then_manual_mentions_every_agent_on_duty(fake, tmp_path):
    clock = Clock()
    desk = await Desk(fake, str(tmp_path / "t.db"), clock=clock, **MANUAL).start()
    w = desk.world
    try:
        await desk.send("MESSAGE_CREATE", w.customer_message(w.support_channel, HUMAN))
        await until(lambda: desk.core.store.conversation(1).card_ref, what="the card")
        first = desk.core.store.conversation(1).card_ref
        clock.advance(minutes=11)  # past the warning and the due time at once: one alert, the breach
        await desk.idle()
        await until(lambda: fake.posted(first), what="the breach")
        (breach,) = fake.find("POST", rf"/channels/{first}/messages")
        assert breach.json["content"].startswith("🚨 #1") and "Nobody is on duty" in breach.json["content"]
        assert "<@" not in breach.json["content"] and not breach.json["allowed_mentions"].get("users")

        await slash(desk, w.agent, "duty", {"state": "on"})
        await slash(desk, w.lead, "duty", {"state": "on"})
        await desk.send("MESSAGE_CREATE", w.customer_message(w.support_channel, HUMAN + " (2)"))
        await until(lambda: desk.core.store.conversation(2) and desk.core.store.conversation(2).card_ref,
                    what="the second card")
        second = desk.core.store.conversation(2).card_ref
        assert desk.core.store.conversation(2).assignee is None  # manual: nobody is picked
        clock.advance(minutes=8)
        await desk.idle()
        await until(lambda: fake.posted(second), what="the warning")
        (warning,) = fake.find("POST", rf"/channels/{second}/messages")
        assert "⏰ #2" in warning.json["content"]
        assert {str(u) for u in warning.json["allowed_mentions"]["users"]} == {w.agent.id, w.lead.id}
    finally:
        await desk.stop()
