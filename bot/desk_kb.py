"""The knowledge-base commands agents and leads use: teach from a conversation, review what was taught.

Declared here with the same `@command` registry as bot/desk.py (imported beside it, so every adapter offers
them); the logic is bot/teach.py (teaching) and bot/kb_review.py (a lead's review). `teach` is also the card's
**Save to knowledge base** button; `approve_taught` / `discard_taught` are the card's one-click review of what
was taught from that conversation.
"""
from __future__ import annotations

from bot import kb_review, teach as teaching
from bot.desk import CONV, _conversation
from bot.registry import Arg, Button, CommandError, Context, command
from vocab import CommandResult, Role, Tone


@command("teach", CONV, Arg("article", "text", required=False, help="an article id, or new"),
         help="Save the customer's question and the answer they got to the knowledge base",
         button=Button("Save to knowledge base", Tone.PRIMARY))
def teach(ctx: Context, conversation: int, article: str | None) -> CommandResult:
    return teaching.teach(ctx, _conversation(ctx, conversation, open_only=False), article)


@command("kb", Arg("action", "choice", choices=("pending", "approve", "discard")),
         Arg("article", "text", required=False), role=Role.LEAD,
         help="Review what was taught: list it, approve an article (then it may auto-send), or discard it")
def kb(ctx: Context, action: str, article: str | None) -> CommandResult:
    if action == "pending":
        return kb_review.pending(ctx)
    if not article:
        raise CommandError(f"Which article? `kb {action} <article>`; `kb pending` lists them.")
    article = article.strip().lower().removesuffix(".md")
    done = kb_review.approve(ctx, article) if action == "approve" else kb_review.discard(ctx, article)
    return CommandResult(done, data={"article": article})


def _review_taught(ctx: Context, conversation: int, decide) -> CommandResult:
    conv = _conversation(ctx, conversation, open_only=False)
    articles = kb_review.taught_from(ctx, conv.id)
    if not articles:
        return CommandResult(f"Nothing taught from #{conv.id} waits for approval.")
    return CommandResult(" ".join(decide(ctx, a) for a in articles), data={"articles": articles})


@command("approve_taught", CONV, role=Role.LEAD, button=Button("Approve for the KB", Tone.GOOD),
         help="Approve the articles taught from a conversation (the card's button)")
def approve_taught(ctx: Context, conversation: int) -> CommandResult:
    return _review_taught(ctx, conversation, kb_review.approve)


@command("discard_taught", CONV, role=Role.LEAD, button=Button("Discard lesson", Tone.DANGER),
         help="Discard what was taught from a conversation (the card's button)")
def discard_taught(ctx: Context, conversation: int) -> CommandResult:
    return _review_taught(ctx, conversation, kb_review.discard)
