"""Agent commands through the core's one registry: permissions, bad ids, bad arguments, every handler."""
from __future__ import annotations

import asyncio

from bot.commands import COMMANDS
from vocab import Actor, Role, State
from tests.conftest import AGENT, LEAD, conv_of, make_settings, say, start_core

CUSTOMER = Actor("test", "U-cara", "cara", Role.CUSTOMER)


async def test_every_command_is_declared_once_with_usage_and_help():
    expected = {"help", "queue", "show", "approve", "edit", "reject", "takeover", "handback", "reply", "note",
                "assign", "resolve", "mode", "digest", "teach", "kb", "approve_taught", "discard_taught",
                "snippet", "snippets", "duty"}
    assert set(COMMANDS) == expected
    assert all(c.help and c.usage.startswith(c.name) for c in COMMANDS.values())
    assert COMMANDS["mode"].role == Role.LEAD
    assert {COMMANDS[name].role for name in ("kb", "approve_taught", "discard_taught")} == {Role.LEAD}


async def test_a_leads_mode_survives_a_restart_and_mode_alone_says_who_set_it(settings, clock, caplog):
    core = await start_core(settings, clock)
    assert (await core.execute(LEAD, "mode off")).ok
    await core.stop()
    caplog.set_level("INFO")
    again = await start_core(settings, clock)  # TANDEM_MODE is still review
    try:
        assert again.mode.value == "off"
        assert any("mode off" in r.getMessage() and "leo" in r.getMessage() for r in caplog.records)
        shown = await again.execute(LEAD, "mode")
        assert shown.ok and "off" in shown.text and "leo" in shown.text and "2026-11-25" in shown.text
        await say(again, "How does pay in 4 work?")
        assert conv_of(again).state == State.WAITING_HUMAN  # the bot is off: a person answers
    finally:
        await again.stop()


async def test_customer_trying_an_agent_command_is_refused_and_logged(core):
    await say(core, "How does pay in 4 work?")
    draft = core.store.pending_draft(conv_of(core).id)
    result = await core.execute(CUSTOMER, f"approve {draft.id}")
    assert not result.ok and "only for the support team" in result.text
    assert core.store.draft(draft.id).status == "pending"
    refused = core.store.events_named("command_refused")
    assert refused and refused[-1]["actor"] == "cara" and refused[-1]["actor_role"] == "customer"
    assert core.test_adapter.sent == []


async def test_agent_cannot_change_the_mode_but_a_lead_can(core):
    result = await core.execute(AGENT, "mode auto")
    assert not result.ok and "leads only" in result.text
    assert (await core.execute(LEAD, "mode auto")).ok
    assert core.mode.value == "auto"
    assert core.store.events_named("mode")[-1]["actor"] == "leo"


async def test_unknown_commands_and_missing_ids_get_clear_answers(core):
    unknown = await core.execute(AGENT, "frobnicate 3")
    assert not unknown.ok and "Unknown command `frobnicate`" in unknown.text
    missing = await core.execute(AGENT, "approve 404")
    assert not missing.ok and "no draft d404" in missing.text
    no_conv = await core.execute(AGENT, "takeover 77")
    assert not no_conv.ok and "no conversation #77" in no_conv.text
    bad = await core.execute(AGENT, "approve banana")
    assert not bad.ok and "must be a number" in bad.text and "Usage: `approve <draft>`" in bad.text
    empty = await core.execute(AGENT, "reply 1")
    assert not empty.ok and "Missing <text>" in empty.text
    assert len(core.store.events_named("command_error")) == 4
    assert core.store.events_named("command_unknown")


async def test_help_lists_only_what_the_actor_may_run(core):
    agent_help = (await core.execute(AGENT, "help")).text
    lead_help = (await core.execute(LEAD, "/tandem")).text
    assert "approve <draft>" in agent_help and "mode" not in agent_help
    assert "mode [review|auto|off]" in lead_help


async def test_approve_sends_the_draft_and_logs_the_decision(core):
    await say(core, "How does pay in 4 work?")
    conv = conv_of(core)
    draft = core.store.pending_draft(conv.id)
    result = await core.invoke(AGENT, "approve", {"draft": draft.id})
    await core.wait_idle()
    assert result.ok
    decided = core.store.draft(draft.id)
    assert decided.status == "approved" and decided.decided_by == "ana" and decided.edit_distance == 0
    assert core.test_adapter.texts() == [draft.text]
    assert conv_of(core).first_response_at is not None
    again = await core.invoke(AGENT, "approve", {"draft": draft.id})
    assert not again.ok and "already approved by ana" in again.text
    assert len(core.test_adapter.sent) == 1


async def test_edit_sends_the_new_text_and_records_the_edit_distance(core):
    await say(core, "How does pay in 4 work?")
    draft = core.store.pending_draft(conv_of(core).id)
    result = await core.execute(AGENT, f"edit {draft.id} Four payments,  two weeks apart.\nNo interest!")
    await core.wait_idle()
    assert result.ok
    decided = core.store.draft(draft.id)
    assert decided.status == "edited" and decided.final_text == "Four payments,  two weeks apart.\nNo interest!"
    assert decided.edit_distance > 0
    assert core.test_adapter.texts()[-1] == decided.final_text


async def test_reject_hands_the_customer_to_a_person(core):
    await say(core, "How does pay in 4 work?")
    conv = conv_of(core)
    draft = core.store.pending_draft(conv.id)
    result = await core.execute(AGENT, f"reject {draft.id} wrong tone")
    await core.wait_idle()
    assert result.ok
    assert core.store.draft(draft.id).reject_reason == "wrong tone"
    conv = conv_of(core)
    assert conv.state == State.WAITING_HUMAN and conv.handoff_reason == "draft_rejected"
    assert "A person from our team" in core.test_adapter.texts()[-1]


async def test_reply_note_assign_and_show(core):
    await say(core, "How does pay in 4 work?")
    conv = conv_of(core)
    await core.execute(AGENT, f"note {conv.id} VIP customer, be nice")
    await core.execute(AGENT, f"assign {conv.id} leo")
    assert conv_of(core).assignee == "leo"
    result = await core.execute(AGENT, f"reply #{conv.id} Hello from Ana")
    await core.wait_idle()
    assert result.ok and core.test_adapter.texts() == ["Hello from Ana"]
    conv = conv_of(core)
    assert conv.state == State.HUMAN and conv.assignee == "ana"
    shown = (await core.execute(AGENT, f"show {conv.id}")).text
    assert "VIP customer" in shown and "Hello from Ana" in shown and "How does pay in 4 work?" in shown
    assert all("VIP" not in t for t in core.test_adapter.texts())  # notes never reach the customer


async def test_queue_lists_what_needs_a_person_oldest_first(core, clock):
    await say(core, "I want to talk to a human", who="first")
    clock.advance(minutes=5)
    await say(core, "How does pay in 4 work?", who="second")
    clock.advance(minutes=3)
    result = await core.execute(AGENT, "queue")
    lines = result.text.splitlines()
    assert lines[0].startswith("2 conversation(s)")
    assert "first" in lines[1] and "waiting 8m" in lines[1] and "asked for a person" in lines[1]
    assert "second" in lines[2] and "draft to review" in lines[2]


async def test_commands_on_resolved_conversations_change_nothing(core):
    await say(core, "How does pay in 4 work?")
    conv = conv_of(core)
    await core.execute(AGENT, f"resolve {conv.id} confirm")
    for line in (f"takeover {conv.id}", f"reply {conv.id} hi", f"resolve {conv.id}", f"handback {conv.id}"):
        result = await core.execute(AGENT, line)
        assert not result.ok and "is resolved" in result.text
    assert conv_of(core).state == State.RESOLVED


async def test_digest_command_counts(core):
    await say(core, "How does pay in 4 work?")
    await say(core, "human", who="h")
    draft = core.store.pending_draft(conv_of(core).id)
    await core.execute(AGENT, f"approve {draft.id}")
    result = await core.execute(AGENT, "digest 7")
    assert result.ok and "2 conversations opened" in result.text and "acceptance 100%" in result.text
    assert "asked_for_human: 1" in result.text


async def test_drafts_are_written_d4_and_never_taken_for_conversations(core):
    await say(core, "How does pay in 4 work?")
    conv = conv_of(core)
    draft = core.store.pending_draft(conv.id)
    shown = await core.execute(AGENT, f"show {conv.id}")
    assert f"Conversation #{conv.id}" in shown.text and f"Draft d{draft.id} (" in shown.text
    queued = await core.execute(AGENT, "queue")
    assert f"draft d{draft.id} (" in queued.text
    mixed = await core.execute(AGENT, f"show d{draft.id}")
    assert not mixed.ok and "is a draft" in mixed.text and "conversation number" in mixed.text
    for spelled in (f"#d{draft.id}", f"D{draft.id}", f"d{draft.id}"):
        seen = await core.execute(AGENT, f"reject {spelled} checking the spellings")
        assert "d0" not in seen.text and f"d{draft.id}" in seen.text, seen.text
    assert core.store.draft(draft.id).status == "rejected"
    assert not (await core.execute(AGENT, "approve d0")).ok
    assert not (await core.execute(AGENT, "approve dd4")).ok
    await say(core, "How does pay in 4 work?", who="bob")
    bob = conv_of(core, "bob")
    second = core.store.pending_draft(bob.id)
    approved = await core.execute(AGENT, f"approve {second.id}")
    assert approved.text == f"Draft d{second.id} approved and sent to bob (conversation #{bob.id})."


async def test_the_digest_command_builds_in_a_child_process_not_on_the_loop(core, monkeypatch):
    """`/tandem digest` on a large log reads and charts for seconds: the figures are built in a fresh child
    process, which shares no interpreter lock with the acknowledging loop. Proof: the builder in this process
    is broken, and the answer still comes, built by a process that never saw the patch."""
    import bot.digest.publish as publish

    def broken(*args, **kwargs):
        raise AssertionError("the digest was built in the acknowledging process")

    monkeypatch.setattr(publish, "build_digest", broken)
    await say(core, "How does pay in 4 work?")
    result = await core.execute(AGENT, "digest 7")
    assert result.ok, result.text
    assert "1 conversation opened" in result.text or "1 conversations opened" in result.text
    assert result.data["opened"] == 1


async def test_an_in_memory_database_builds_the_digest_in_a_worker_thread(tmp_path, clock, monkeypatch):
    """A database that lives only in this process cannot be read by a child: its digest is built in a worker
    thread, still off the event loop."""
    import threading

    import bot.digest.publish as publish

    core = await start_core(make_settings(tmp_path, tandem_db=":memory:"), clock)
    where: list[tuple[str, bool]] = []
    real = publish.build_digest

    def noting(*args, **kwargs):
        try:
            asyncio.get_running_loop()
            on_loop = True
        except RuntimeError:
            on_loop = False
        where.append((threading.current_thread().name, on_loop))
        return real(*args, **kwargs)

    monkeypatch.setattr(publish, "build_digest", noting)
    try:
        await say(core, "How does pay in 4 work?")
        result = await core.execute(AGENT, "digest 7")
    finally:
        await core.stop()
    assert result.ok and result.data["opened"] == 1
    assert where and where[0][1] is False and where[0][0] != threading.main_thread().name
