"""Response-time targets and on-duty routing through the core, on a real SQLite file, travelling in time.

A due time per waiting conversation (card, queue), one warning and one breach alert per target to the assignee
or the agents on duty, kept across a restart and dropped when a reply made it untrue; round robin and least
busy among the agents on duty, going off duty, `duty` permissions and `queue mine|unassigned|all`.
"""
from __future__ import annotations

import dataclasses
import json
import logging
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.config import ConfigError, Settings, load_settings
from bot.hours import SupportHours
from bot.sla import SlaClock
from vocab import Actor, AuditAction, Role
from tests.conftest import AGENT, LEAD, conv_of, customer_message, make_settings, say, start_core

ANA = AGENT  # Actor("test", "U-AGENT", "ana", Role.AGENT)
BEN = Actor("test", "U-BEN", "ben", Role.AGENT)
CY = Actor("test", "U-CY", "cy", Role.AGENT)
HUMAN = "I want to talk to a human please"


def sla_settings(tmp_path, **extra):
    return make_settings(tmp_path, tandem_sla_first_response="10m", tandem_sla_next_response="30m", **extra)


def actions(core, action: AuditAction) -> list[dict]:
    return [dict(e, details=json.loads(e["details"])) for e in core.store.events_named(action)]


@asynccontextmanager
async def sla_core(tmp_path, clock, **extra):
    core = await start_core(sla_settings(tmp_path, **extra), clock)
    try:
        yield core
    finally:
        await core.stop()


async def run(core, actor, line: str):
    result = await core.execute(actor, line)
    await core.wait_idle()
    return result


# ---- settings and the clock ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name,value", [("tandem_sla_first_response", "ten minutes"),
                                        ("tandem_sla_next_response", "15"), ("tandem_sla_first_response", "0s")])
def test_a_bad_duration_is_one_line_naming_the_setting(name, value):
    with pytest.raises(ConfigError) as exc:
        load_settings(Settings, env_file=None, **{name: value})
    assert str(exc.value).startswith(name.upper() + ": must be a duration")
    assert "\n" not in str(exc.value)


def test_durations_and_the_other_settings():
    s = load_settings(Settings, env_file=None, tandem_sla_first_response="90s", tandem_sla_next_response="1h30m")
    assert (s.tandem_sla_first_response, s.tandem_sla_next_response, s.tandem_sla_warn_at) == (90, 5400, 0.75)
    assert s.tandem_assign == "round_robin" and s.tandem_sla_clock == "support_hours"
    assert not load_settings(Settings, env_file=None).sla_targets
    for bad in ({"tandem_sla_warn_at": "1.5"}, {"tandem_assign": "random"}, {"tandem_sla_clock": "always"}):
        with pytest.raises(ConfigError, match=next(iter(bad)).upper()):
            load_settings(Settings, env_file=None, **bad)


def test_support_hours_clock_skips_nights_and_weekends():
    hours = SupportHours.parse("Mon-Fri 09:00-17:00", ZoneInfo("Europe/Amsterdam"))
    clock = SlaClock(hours)
    friday_4pm = datetime(2026, 11, 27, 16, 0, tzinfo=ZoneInfo("Europe/Amsterdam"))
    due = clock.add(friday_4pm, 4 * 3600)
    assert due == datetime(2026, 11, 30, 12, 0, tzinfo=ZoneInfo("Europe/Amsterdam"))  # Monday noon
    assert clock.between(friday_4pm, due) == 4 * 3600
    saturday = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)
    assert clock.add(saturday, 60) == datetime(2026, 11, 30, 9, 1, tzinfo=ZoneInfo("Europe/Amsterdam"))
    assert SlaClock(None).add(friday_4pm, 4 * 3600) == datetime(2026, 11, 27, 20, 0,
                                                                 tzinfo=ZoneInfo("Europe/Amsterdam"))


# ---- due times, alerts --------------------------------------------------------------------------------------
async def test_warned_then_breached_once_each_with_the_due_time_on_card_and_queue(tmp_path, clock):
    async with sla_core(tmp_path, clock) as core:
        await run(core, ANA, "duty on")
        await say(core, HUMAN)
        conv = conv_of(core)
        assert conv.assignee == "ana" and conv.assignee_id == "U-AGENT"
        assigned = core.test_adapter.notices[-1]
        assert assigned.mentions == (("U-AGENT", "ana"),) and "assigned to you" in assigned.text
        assert core.test_adapter.cards[-1].card.due == "reply due in 10m"

        clock.advance(minutes=8)  # 75% of 10 minutes passed
        await core.wait_idle()
        warning = core.test_adapter.notices[-1]
        assert warning.mentions == (("U-AGENT", "ana"),) and "⏰" in warning.text and "reply due in 2m" in warning.text
        assert core.test_adapter.cards[-1].card.due == "reply due in 2m"
        queue = (await run(core, ANA, "queue")).text
        assert "reply due in 2m" in queue and "assigned to ana" in queue

        clock.advance(minutes=3)
        await core.wait_idle()
        breach = core.test_adapter.notices[-1]
        assert "🚨" in breach.text and "reply overdue by 1m" in breach.text
        assert core.test_adapter.cards[-1].card.due == "reply overdue by 1m"
        clock.advance(minutes=30)
        await core.wait_idle()
        assert len(core.test_adapter.notices) == 3  # assigned, warned, breached: never again
        assert [e["details"]["kind"] for e in actions(core, AuditAction.SLA_WARNING)] == ["first"]
        assert [e["details"]["assignee"] for e in actions(core, AuditAction.SLA_BREACH)] == ["ana"]

        await run(core, ANA, f"reply {conv.id} Sorry for the wait, here is your answer.")
        target = core.store.open_target(conv.id)
        assert target is None and core.test_adapter.cards[-1].card.due is None


async def test_alerts_are_not_repeated_after_a_restart(tmp_path, clock):
    settings = sla_settings(tmp_path)
    core = await start_core(settings, clock)
    await run(core, ANA, "duty on")
    await say(core, HUMAN)
    clock.advance(minutes=8)
    assert core.sla.check() == 1  # queued, and the process stops before the outbox sends it
    await core.stop()
    assert len(core.test_adapter.notices) == 1  # only the assignment

    again = await start_core(settings, clock)  # a new core on the same database file
    try:
        await again.wait_idle()
        assert [n.text[:1] for n in again.test_adapter.notices] == ["⏰"]
        assert again.sla.check() == 0
        clock.advance(minutes=1)
        await again.wait_idle()
        assert len(again.test_adapter.notices) == 1
        rows = [r for r in again.store.outbox_rows() if r["key"] and r["kind"] == "notify_agents"]
        assert [r["key"].split(":")[-1] for r in rows] == ["warning"] and rows[0]["status"] == "sent"
    finally:
        await again.stop()


async def test_an_alert_the_reply_made_untrue_is_dropped(tmp_path, clock, caplog):
    async with sla_core(tmp_path, clock) as core:
        await run(core, ANA, "duty on")
        await say(core, HUMAN)
        conv = conv_of(core)
        clock.advance(minutes=9)
        caplog.set_level(logging.INFO)
        assert core.sla.check() == 1
        await core.execute(ANA, f"reply {conv.id} Here you go.")  # before the outbox got to the alert
        await core.wait_idle()
        assert not any("⏰" in n.text for n in core.test_adapter.notices)
        dropped = [r for r in core.store.outbox_rows() if r["status"] == "dropped"]
        assert len(dropped) == 1 and "reply went out" in dropped[0]["last_error"]
        assert actions(core, AuditAction.SLA_ALERT_DROPPED)[0]["conversation_id"] == conv.id
        assert any("alert for #" in r.getMessage() and "dropped" in r.getMessage() for r in caplog.records)
        clock.advance(hours=1)
        await core.wait_idle()
        assert not actions(core, AuditAction.SLA_BREACH)


async def test_nobody_on_duty_stays_unassigned_and_the_alert_goes_to_the_channel(tmp_path, clock):
    async with sla_core(tmp_path, clock) as core:
        await say(core, HUMAN)
        assert conv_of(core).assignee is None
        clock.advance(minutes=11)  # past the warning and the due time at once: one alert, the breach
        await core.wait_idle()
        (alert,) = core.test_adapter.notices
        assert alert.mentions == () and "Nobody is on duty" in alert.text and "🚨" in alert.text
        assert actions(core, AuditAction.SLA_BREACH)[0]["details"]["assignee"] is None


async def test_no_targets_when_unset(core, clock):
    await say(core, HUMAN)
    clock.advance(days=2)
    await core.wait_idle()
    assert core.store.open_target(conv_of(core).id) is None and not core.test_adapter.notices


async def test_the_next_reply_target_and_the_digest_figures(tmp_path, clock):
    async with sla_core(tmp_path, clock) as core:
        await run(core, ANA, "duty on")
        await say(core, HUMAN)
        conv = conv_of(core)
        clock.advance(minutes=5)
        await run(core, ANA, f"reply {conv.id} Hello, I am on it.")  # the first reply, in time
        clock.advance(minutes=1)
        await say(core, "It still does not work")  # a person owns it: the next target (30m) starts
        assert core.store.open_target(conv.id)["kind"] == "next"
        clock.advance(minutes=40)
        await core.wait_idle()
        await run(core, ANA, f"reply {conv.id} Fixed now.")  # 10 minutes late
        digest = (await run(core, LEAD, "digest")).text
        assert "first reply: 100% met (1 of 1)" in digest
        assert "next reply: 0% met (0 of 1), missed by a median of 10m 00s" in digest
        assert "missed, by agent: ana 1" in digest


# ---- routing ------------------------------------------------------------------------------------------------
async def test_round_robin_over_three_agents_and_one_going_off_duty(tmp_path, clock):
    async with sla_core(tmp_path, clock) as core:
        for agent in (ANA, BEN, CY):
            assert (await run(core, agent, "duty on")).ok
        for who in ("c1", "c2", "c3", "c4"):
            await say(core, HUMAN, who)
            clock.advance(minutes=1)
        assert [conv_of(core, w).assignee for w in ("c1", "c2", "c3", "c4")] == ["ana", "ben", "cy", "ana"]

        result = await run(core, BEN, "duty off")
        assert result.ok and f"#{conv_of(core, 'c2').id}" in result.text
        assert conv_of(core, "c2").assignee == "cy"  # the next in turn after ana (c4)
        route = actions(core, AuditAction.ROUTE)[-1]["details"]
        assert route["why"] == "ben went off duty" and route["previous"] == "ben"
        assert [e["details"]["on"] for e in actions(core, AuditAction.DUTY)] == [True, True, True, False]
        await say(core, HUMAN, "c5")
        assert conv_of(core, "c5").assignee == "ana"
        assert "ben" not in (await run(core, ANA, "duty")).text


async def test_least_busy_takes_the_agent_with_fewest_open(tmp_path, clock):
    async with sla_core(tmp_path, clock, tandem_assign="least_busy") as core:
        await run(core, ANA, "duty on")
        await run(core, BEN, "duty on")
        await say(core, HUMAN, "c1")
        await say(core, HUMAN, "c2")
        assert [conv_of(core, w).assignee for w in ("c1", "c2")] == ["ana", "ben"]
        await run(core, BEN, f"resolve {conv_of(core, 'c2').id}")  # ben has none open now
        assert conv_of(core, "c2").assignee is None and conv_of(core, "c2").previous_assignee == "ben"
        await say(core, HUMAN, "c3")
        assert conv_of(core, "c3").assignee == "ben"  # round robin would say ana
        await say(core, HUMAN, "c4")
        assert conv_of(core, "c4").assignee == "ana"  # one each: the longest since their last
        assert actions(core, AuditAction.ROUTE)[-1]["details"]["strategy"] == "least_busy"


async def test_manual_assigns_nobody(tmp_path, clock):
    async with sla_core(tmp_path, clock, tandem_assign="manual") as core:
        await run(core, ANA, "duty on")
        await say(core, HUMAN)
        assert conv_of(core).assignee is None


async def test_queue_filters_assign_and_handback(tmp_path, clock):
    async with sla_core(tmp_path, clock) as core:
        await say(core, HUMAN, "c1")  # nobody on duty yet: unassigned
        await run(core, ANA, "duty on")
        await say(core, HUMAN, "c2")
        one, two = conv_of(core, "c1").id, conv_of(core, "c2").id
        everything = await run(core, BEN, "queue")
        assert everything.data["conversations"] == [one, two]  # the soonest due first
        assert "unassigned" in everything.text and "assigned to ana" in everything.text
        assert (await run(core, ANA, "queue mine")).data["conversations"] == [two]
        assert (await run(core, ANA, "queue unassigned")).data["conversations"] == [one]
        assert "Nothing is assigned to you" in (await run(core, BEN, "queue mine")).text

        assert (await run(core, ANA, f"assign {one} ben")).text == f"#{one} assigned to ben."
        assert conv_of(core, "c1").assignee == "ben"
        assert core.test_adapter.notices[-1].mentions == (("ben", "ben"),)
        assert core.test_adapter.cards[-1].card.assignee == "ben"
        await run(core, ANA, f"handback {two}")
        assert conv_of(core, "c2").assignee is None and conv_of(core, "c2").assignee_id is None
        assert core.store.open_target(two) is None
        assert (await run(core, ANA, "queue bogus")).ok is False


async def test_duty_permissions_and_it_survives_a_restart(tmp_path, clock):
    settings = sla_settings(tmp_path)
    core = await start_core(settings, clock)
    refused = await run(core, ANA, "duty on ben")
    assert not refused.ok and "Only a lead" in refused.text
    assert "Nobody is on duty" in (await run(core, ANA, "duty")).text
    assert (await run(core, LEAD, "duty on ben")).text == "ben is on duty now."
    assert (await run(core, LEAD, "duty on @ben")).text == "ben is already on duty; nothing changed."
    assert (await run(core, ANA, "duty on")).text == "You are on duty now."
    assert actions(core, AuditAction.DUTY)[0]["actor"] == "leo"
    await core.stop()

    again = await start_core(settings, clock)
    try:
        shown = await run(again, ANA, "duty")
        assert sorted(shown.data["on_duty"]) == ["ana", "ben"] and "round robin" in shown.text
        assert (await run(again, LEAD, "duty off ana")).text == "ana is off duty now."
        assert (await run(again, ANA, "duty off")).text == "You are already off duty; nothing changed."
    finally:
        await again.stop()


async def test_the_outbox_key_queues_an_action_once(tmp_path, clock):
    core = await start_core(make_settings(tmp_path), clock)
    try:
        await say(core, "hello")
        conv = conv_of(core)
        assert core.conversations.tell_agents(conv, "once", (), key="k:1")
        assert not core.conversations.tell_agents(conv, "twice", (), key="k:1")
        assert core.conversations.tell_agents(conv, "no key", ())
        assert core.conversations.tell_agents(conv, "no key", ())
    finally:
        await core.stop()


async def test_conversations_go_only_to_agents_of_their_platform_and_workspace(tmp_path, clock):
    async with sla_core(tmp_path, clock) as core:
        here = Actor("test", "U-HERE", "hana", Role.AGENT, workspace="W1")
        there = Actor("test", "U-THERE", "tess", Role.AGENT, workspace="W2")
        elsewhere = Actor("slack", "U-SLACK", "", Role.AGENT, workspace="W1")
        for agent in (there, elsewhere, here):
            await run(core, agent, "duty on")
        for n in range(3):
            event = customer_message(HUMAN, f"w{n}")
            await core.receive(dataclasses.replace(event, address=dataclasses.replace(event.address, workspace="W1")))
            await core.wait_idle()
        assigned = {core.store.conversation(i).assignee for i in (1, 2, 3)}
        assert assigned == {"hana"}
        assert "tess" not in (await run(core, here, "duty")).text
        assert (await run(core, LEAD, "duty off hana")).text == "hana is off duty now."  # nobody else may take them
        assert {core.store.conversation(i).assignee for i in (1, 2, 3)} == {"hana"}


async def test_a_notice_naming_a_customer_called_everyone_pings_nobody(tmp_path, clock):
    async with sla_core(tmp_path, clock) as core:
        await run(core, ANA, "duty on")
        await say(core, HUMAN, "@everyone")
        (notice,) = core.test_adapter.notices
        assert "@everyone" not in notice.text and "[ping removed]" in notice.text
