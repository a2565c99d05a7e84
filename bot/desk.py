"""What agents can do: the handlers behind every command, button and modal.

Each handler runs inside one transaction (see `commands.invoke`): it checks the ids and the state, asks the
conversation service for the transition (which logs it, tells the customer and refreshes the card), and
answers the agent with one clear line. Ids that do not exist and actions that do not fit the
conversation's state get a plain explanation and change nothing.
"""
from __future__ import annotations

from datetime import datetime

from bot import approvals, texts
from bot.cards import REASONS, build_card
from bot.conversations import in_scope
from bot.registry import COMMANDS, Arg, Button, CommandError, Context, Later, OutOfScope, command
from bot.snippets import Snippet
from bot.sla import due_label
from bot.texts import clip
from vocab import AuditAction, CommandResult, Conversation, Draft, DraftStatus, Mode, Role, State, Tone

CONV = Arg("conversation", "conversation")
DRAFT = Arg("draft", "draft")


def conversation_in_scope(ctx: Context, conversation_id: int, *, open_only: bool = True) -> Conversation:
    """The conversation the agent names, if it exists, is theirs to act on and (`open_only`) is not resolved."""
    conv = ctx.store.conversation(conversation_id)
    if conv is None:
        raise CommandError(f"There is no conversation #{conversation_id}. Try `queue` to see open ones.")
    if not in_scope(ctx.actor, conv.platform, conv.workspace):
        raise OutOfScope(f"Conversation #{conv.id} is not in your workspace, so nothing was changed.", conv.id)
    if open_only and conv.state == State.RESOLVED:
        raise CommandError(
            f"Conversation #{conv.id} is resolved, so nothing was changed. It reopens when the customer writes again."
        )
    return conv


def _pending_draft(ctx: Context, draft_id: int) -> tuple[Draft, Conversation]:
    draft = ctx.store.draft(draft_id)
    if draft is None:
        raise CommandError(f"There is no draft d{draft_id}. Try `queue` to see drafts waiting for review.")
    conv = _conversation(ctx, draft.conversation_id)
    if draft.status != DraftStatus.PENDING:
        by = f" by {draft.decided_by}" if draft.decided_by else ""
        raise CommandError(f"Draft d{draft.id} is already {draft.status}{by}; nothing was sent.")
    return draft, conv


_conversation = conversation_in_scope


def find_snippet(ctx: Context, name: str) -> Snippet:
    """The saved reply called `name`; otherwise an answer that names the closest ones."""
    book = ctx.conversations.snippets
    found = book.get(name)
    if found is not None:
        return found
    close = book.closest(name)
    hint = f" Closest: {', '.join(f'`{n}`' for n in close)}." if close else ""
    raise CommandError(f"There is no saved reply `{clip(name, 40)}`.{hint} `snippets` lists them all.")


def fill_snippet(ctx: Context, snippet: Snippet, conv: Conversation) -> str:
    """The saved reply for this conversation: in the customer's language, with the placeholders filled."""
    return snippet.fill(conv.language, customer=conv.customer, agent=ctx.who, conversation=conv.id)


def _ago(iso_time: str | None, now: datetime) -> str:
    if not iso_time:
        return "?"
    return texts.duration(max(0.0, (now - datetime.fromisoformat(iso_time)).total_seconds()))


@command("help", help="List the commands you can use")
def help_(ctx: Context) -> CommandResult:
    lines = [f"`{c.usage}`: {c.help}" for c in COMMANDS.values() if ctx.actor.role >= c.role]
    return CommandResult("Tandem commands:\n" + "\n".join(lines))


@command("queue", Arg("which", "choice", required=False, choices=("mine", "unassigned", "all")),
         help="What needs a person, soonest due first, with the assignee: all (default), mine or unassigned")
def queue(ctx: Context, which: str | None) -> CommandResult:
    now, which = ctx.store.clock(), which or "all"
    rows = [r for r in ctx.store.conversations_needing_agent() if in_scope(ctx.actor, r["platform"], r["workspace"])]
    if which == "mine":
        rows = [r for r in rows if r["assignee_id"] == ctx.actor.user_id or r["assignee"] == ctx.who]
    elif which == "unassigned":
        rows = [r for r in rows if not r["assignee"]]
    clock = ctx.conversations.sla_clock()
    lines = []
    for r in rows:
        if r["state"] == "human":
            what = f"owned by {r['assignee'] or '?'}"
        else:
            what = (REASONS.get(r["handoff_reason"] or "", r["handoff_reason"] or "waiting")
                    if r["state"] == "waiting_human" else "draft to review")
            what += f" · assigned to {r['assignee']}" if r["assignee"] else " · unassigned"
        draft = f" · draft d{r['draft_id']} ({r['draft_confidence']:.0%})" if r["draft_id"] else ""
        due = f" · {due_label(clock, r['due_at'], now)}" if r["due_at"] else ""
        lines.append(f"#{r['id']} · {r['platform']} · {r['customer_name'] or r['customer_id']} · "
                     f"waiting {_ago(r['waiting_since'], now)}{due} · {what}{draft}")
    undelivered = ctx.store.undelivered_count()
    if undelivered:
        lines.append(f"⚠ {undelivered} outbound message(s) not delivered yet; retrying (see logs).")
    if not rows:
        nothing = {"all": "Nothing needs a person right now. 🎉", "mine": "Nothing is assigned to you right now.",
                   "unassigned": "Every conversation that needs a person is assigned."}[which]
        return CommandResult("\n".join([nothing, *lines]), data={"conversations": []})
    title = {"all": "need a person", "mine": "assigned to you", "unassigned": "need a person, unassigned"}[which]
    return CommandResult(f"{len(rows)} conversation(s) {title}:\n" + "\n".join(lines),
                         data={"conversations": [r["id"] for r in rows]})


@command("duty", Arg("state", "choice", required=False, choices=("on", "off")), Arg("agent", "agent", required=False),
         help="Go on or off duty (a lead: anyone); alone, who is on duty")
def duty(ctx: Context, state: str | None, agent: str | None) -> CommandResult:
    service = ctx.conversations
    if state is None:
        if agent:
            raise CommandError("Say `duty on` or `duty off` before the agent's name.")
        rows = service.on_duty(ctx.actor.platform, ctx.actor.workspace)
        if not rows:
            return CommandResult("Nobody is on duty: handed-off conversations stay unassigned. `duty on` to take them.",
                                 data={"on_duty": []})
        names = [f"{r['name'] or r['user_id']} ({r['open']} open)" for r in rows]
        return CommandResult(f"On duty ({service.settings.tandem_assign.replace('_', ' ')}): " + ", ".join(names),
                             data={"on_duty": [r["name"] or r["user_id"] for r in rows]})
    target = service.agent_named(ctx.actor, agent)
    if target.user_id != ctx.actor.user_id and ctx.actor.role < Role.LEAD:
        raise CommandError("Only a lead can put someone else on or off duty; nothing was changed.")
    who = "You are" if target.user_id == ctx.actor.user_id else f"{target.label} is"
    moved = service.set_duty(target, state == "on", ctx.actor)
    if moved is None:
        return CommandResult(f"{who} already {state} duty; nothing changed.")
    handed = f" Their open conversations went to others: {', '.join(f'#{i}' for i in moved)}." if moved else ""
    return CommandResult(f"{who} {state} duty now.{handed}", data={"moved": moved or []})


@command("show", CONV, help="A conversation's transcript, state and pending draft")
def show(ctx: Context, conversation: int) -> CommandResult:
    conv = _conversation(ctx, conversation, open_only=False)
    card = build_card(ctx.store, conv, ctx.conversations.snippets, ctx.conversations.sla_clock(),
                      **ctx.conversations.card_reads())
    lines = [f"Conversation #{conv.id} · {conv.platform} {card.where} · {conv.customer} · {card.state_label}"]
    for m in ctx.store.recent_messages(conv.id, limit=15):
        who = {"customer": conv.customer, "note": f"note by {m['author_name']}"}.get(
            m["author_kind"], m["author_name"] or m["author_kind"])
        flag = " (deleted)" if m["deleted_at"] else " (edited)" if m["edited_at"] else ""
        lines.append(f"[{m['author_kind']}] {who}: {clip(m['text'], 500)}{flag}")
    if card.draft_id:
        lines.append(f"Draft d{card.draft_id} ({card.confidence:.0%}): {card.draft_text}")
    return CommandResult("\n".join(lines), data={"conversation": conv.id, "draft": card.draft_id})


@command("approve", DRAFT, help="Send a pending draft to the customer as it is", button=Button("Approve", Tone.GOOD))
def approve(ctx: Context, draft: int) -> CommandResult:
    d, conv = _pending_draft(ctx, draft)
    ctx.conversations.send_draft(conv, d, d.text or "", ctx.actor)
    approvals.approved(ctx, conv, d)  # an approval unchanged is a lesson (bot/approvals.py)
    return CommandResult(f"Draft d{d.id} approved and sent to {conv.customer} (conversation #{conv.id}).")


@command("edit", DRAFT, Arg("text", "text", rest=True), help="Send your edited version of a draft",
         button=Button("Edit", Tone.PRIMARY, form=True))
def edit(ctx: Context, draft: int, text: str) -> CommandResult:
    d, conv = _pending_draft(ctx, draft)
    status = ctx.conversations.send_draft(conv, d, text, ctx.actor)
    if status == DraftStatus.APPROVED:  # the Edit form sent back unchanged: an approval
        approvals.approved(ctx, conv, d)
    return CommandResult(f"Draft d{d.id} {'approved' if status == DraftStatus.APPROVED else 'edited'} "
                         f"and sent to {conv.customer} (conversation #{conv.id}).")


def edit_with_snippet(ctx: Context, draft: int, text: str | None, name: str) -> CommandResult:
    """The Edit form sent back with a saved reply chosen beside its text (Discord: a form cannot fill its own text
    box as Slack's does). The saved reply, filled for the conversation, goes out as the edit when the text was
    left as the draft or cleared. A changed text as well is two answers at once: nothing is sent, the draft still
    waits, and the agent gets their text back so nothing they wrote is lost."""
    d, conv = _pending_draft(ctx, draft)
    saved = find_snippet(ctx, name)
    filled = fill_snippet(ctx, saved, conv)
    typed = (text or "").strip()
    if typed and typed not in ((d.text or "").strip(), filled.strip()):
        ctx.store.log_event(ctx.who, AuditAction.COMMAND_ERROR, actor_role=ctx.actor.role.name.lower(),
                            command="edit", conversation_id=conv.id, draft_id=d.id, error=f"changed text and saved reply {saved.name}")
        return CommandResult(
            f"You changed the text and chose the saved reply `{saved.name}`, so it is not clear which to send: "
            f"nothing was sent and draft d{d.id} still waits. Press Edit again and leave the menu empty to send "
            f"your text, or leave the text as the draft to send the saved reply. Your text:\n{typed}", ok=False)
    status = ctx.conversations.send_draft(conv, d, filled, ctx.actor, snippet=saved.name)
    return CommandResult(f"Draft d{d.id} {'approved' if status == DraftStatus.APPROVED else 'edited'}: saved reply "
                         f"`{saved.name}` sent to {conv.customer} (conversation #{conv.id}).",
                         data={"snippet": saved.name, "conversation": conv.id})


@command("reject", DRAFT, Arg("reason", "text", required=False, rest=True),
         help="Discard a draft; the customer is told a person will answer", button=Button("Reject", Tone.DANGER))
def reject(ctx: Context, draft: int, reason: str | None) -> CommandResult:
    d, conv = _pending_draft(ctx, draft)
    ctx.conversations.reject_draft(conv, d, ctx.actor, reason)
    return CommandResult(f"Draft d{d.id} rejected. Conversation #{conv.id} waits for a person: `takeover {conv.id}` or "
                         f"`reply {conv.id} <text>`.")


@command("takeover", CONV, help="Own the conversation; the bot stays silent until handed back",
         button=Button("Take over"))
def takeover(ctx: Context, conversation: int) -> CommandResult:
    conv = _conversation(ctx, conversation)
    if conv.state == State.HUMAN and conv.assignee == ctx.who:
        return CommandResult(f"#{conv.id} is already yours.")
    ctx.conversations.take_over(conv, ctx.actor)
    return CommandResult(f"You own #{conv.id} now. Reply in the conversation or with `reply {conv.id} <text>`.")


@command("handback", CONV, help="Give the conversation back to the bot", button=Button("Hand back"))
def handback(ctx: Context, conversation: int) -> CommandResult:
    conv = _conversation(ctx, conversation)
    if conv.state == State.BOT:
        return CommandResult(f"#{conv.id} is already with the bot; nothing changed.")
    ctx.conversations.hand_back(conv, ctx.actor)
    return CommandResult(f"#{conv.id} is back with the bot; it drafts for the next customer message.")


@command("reply", CONV, Arg("text", "text", rest=True), help="Write to the customer yourself (you own it after)")
def reply(ctx: Context, conversation: int, text: str) -> CommandResult:
    conv = ctx.conversations.reply(_conversation(ctx, conversation), ctx.actor, text)
    return CommandResult(f"Sent to {conv.customer} (conversation #{conv.id}).")


@command("snippet", Arg("name", "snippet", help="The saved reply's name"), CONV,
         help="Send a saved reply as your reply (you own the conversation after, as with reply)")
def snippet(ctx: Context, name: str, conversation: int) -> CommandResult:
    saved = find_snippet(ctx, name)
    conv = _conversation(ctx, conversation)
    conv = ctx.conversations.reply(conv, ctx.actor, fill_snippet(ctx, saved, conv), snippet=saved.name)
    return CommandResult(f"Saved reply `{saved.name}` sent to {conv.customer} (conversation #{conv.id}).",
                         data={"snippet": saved.name, "conversation": conv.id})


@command("snippets", Arg("search", "text", required=False, rest=True, help="Words to look for (optional)"),
         help="List the saved replies (name, title, first line), or those matching your words")
def snippets(ctx: Context, search: str | None) -> CommandResult:
    book = ctx.conversations.snippets
    found = book.search(search)
    if not found:
        return CommandResult(f"No saved reply matches {clip(search or '', 40)!r}; `snippets` lists all {len(book)}.",
                             data={"snippets": []})
    head = f"{len(found)} saved repl{'y' if len(found) == 1 else 'ies'}" + (f" matching {search!r}" if search else "")
    lines = [f"`{s.name}` · {s.title} · {clip(s.first_line, 80)}" for s in found]
    return CommandResult(head + " (send one with `snippet <name> <conversation>`):\n" + "\n".join(lines),
                         data={"snippets": [s.name for s in found]})


@command("note", CONV, Arg("text", "text", rest=True), help="Add an internal note (never shown to the customer)")
def note(ctx: Context, conversation: int, text: str) -> CommandResult:
    conv = _conversation(ctx, conversation, open_only=False)
    ctx.conversations.note(conv, ctx.actor, text)
    return CommandResult(f"Note added to #{conv.id} (only agents can see it).")


@command("assign", CONV, Arg("agent", "agent"), help="Assign the conversation to an agent")
def assign(ctx: Context, conversation: int, agent: str) -> CommandResult:
    conv = ctx.conversations.assign(_conversation(ctx, conversation), ctx.actor, agent)
    return CommandResult(f"#{conv.id} assigned to {conv.assignee}.")


@command("resolve", CONV, Arg("confirm", "choice", required=False, choices=("confirm",)),
         help="Close the conversation and ask the customer for a 1-5 rating; `confirm` discards a waiting draft",
         button=Button("Resolve", Tone.GOOD))
def resolve(ctx: Context, conversation: int, confirm: str | None) -> CommandResult:
    conv = _conversation(ctx, conversation)
    draft = ctx.store.pending_draft(conv.id)
    drafting = ctx.store.has_draft_in_progress(conv.id)
    if (draft or drafting) and not confirm:
        what = f"draft d{draft.id} waits for review" if draft else "a draft is still being written"
        raise CommandError(
            f"Conversation #{conv.id} was not resolved: {what}, so the customer's last message has no answer yet. "
            f"Send or reject it first, or discard it and resolve with `resolve {conv.id} confirm`.")
    conv = ctx.conversations.resolve(conv, ctx.actor)
    discarded = f" Draft d{draft.id} was discarded unsent, as you confirmed." if draft else (
        " The draft being written was discarded, as you confirmed." if drafting else "")
    return CommandResult(f"Conversation #{conv.id} resolved; the customer was asked for a rating.{discarded}")


@command("mode", Arg("mode", "choice", required=False, choices=tuple(m.value for m in Mode)), role=Role.LEAD,
         help="How the bot works: review every draft, auto-send confident ones, or off; alone, the current mode")
def mode(ctx: Context, mode: str | None) -> CommandResult:
    service = ctx.conversations
    if mode is None:
        return CommandResult(f"Mode is {service.mode.value} ({service.mode_origin()}).",
                             data={"mode": service.mode.value})
    previous = service.set_mode(Mode(mode), ctx.actor)
    return CommandResult(f"Mode is now {mode} (was {previous.value}).")


@command("digest", Arg("days", "days", required=False), help="Figures for the last N days (default 7)")
def digest(ctx: Context, days: int | None) -> CommandResult:
    """Built in a child process on a read connection of its own (a year of log takes seconds of reading and
    charting): the loop keeps acknowledging meanwhile."""
    settings, store = ctx.conversations.settings, ctx.store

    async def build() -> CommandResult:
        from bot.digest.offload import build_off_loop
        from bot.digest.publish import digest_answer

        return await build_off_loop(store, digest_answer, days or 7, settings.tandem_timezone, store.clock(),
                                    settings.tandem_handoff_threshold)

    return Later("", work=build)
