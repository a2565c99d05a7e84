"""An agent approving a draft unchanged is itself a lesson: the bot learns the question, live, from the approval.

`teach` learns from what a person wrote or corrected; most drafts are right and simply approved, and until now
nothing was learned from them. Yet an approval of a knowledge-base draft exactly as drafted is a person's word
that this article answers this question: the same fact `teach <conversation> <article>` records, given at no
extra cost. So each such approval is kept (a row of `confirmations`, and a `confirm` audit row) and the offline
drafter takes the question as an example of the article at once, without a restart (LiveKB.confirm: the index
is updated incrementally, as for a taught question).

What counts: the `approve` command or button, or an Edit form sent back with the text unchanged (the draft's
recorded decision is `approved`), of a draft the offline KB drafter wrote, filed under its top source article.
Not an edit, a rejection, a saved reply sent instead, an automatic send (no person looked) or anything a customer
does (the commands are the support team's). Not an LLM draft either: its reply may weave several articles and
the model's own words, so its approval says "this reply answers" but not which article does, and a confirmation
filed under the retrieval's top guess would teach the retrieval its own mistakes; the LLM drafter learns from
approved answers through its examples of the team's voice instead (bot/drafting/examples.py).

Confirmed questions live in SQLite, not in the Markdown files: approvals happen all day, the files must stay the
size a person reads and edits, and an approval must not turn a published article into a `status: draft` one
(a confirmation says the article's answer was right for a question that already reached it: nothing new to
review). An article's confirmed examples are bounded and skip near-duplicates (bot/confirmations.py); those of
an article that no longer exists are ignored. `TANDEM_LEARN_FROM_APPROVALS=false` turns it all off: nothing is
kept, and what was kept is not loaded.
"""
from __future__ import annotations

from bot import confirmations
from bot.ports import Store
from bot.registry import Context
from bot.teach import received
from vocab import AuditAction, Conversation, Draft, DraftStatus

DRAFTER = "kb"  # the drafter whose approved drafts are confirmations: the offline one, whose text is the article's


def confirm(store: Store, kb, *, article_id: str, question: str, agent: str, platform: str = "",
            workspace: str = "", conversation_id: int | None = None, draft_id: int | None = None) -> tuple[int, bool]:
    """Keep one confirmation and teach its question to the live knowledge base `kb` (bot.kb_live.LiveKB): the
    row's id, and whether the drafter learned something (False: the article already has the question, or nearly)."""
    row = store.add_confirmation(platform=platform, workspace=workspace, conversation_id=conversation_id,
                                 draft_id=draft_id, article_id=article_id, question=question, agent=agent)
    return row, kb.confirm(article_id, question)


def stored(store: Store, enabled: bool) -> dict[str, list[str]]:
    """What start-up loads into the index: per article, its newest confirmed questions first ({} when off)."""
    return store.confirmed_questions(confirmations.LOADED) if enabled else {}


def approved(ctx: Context, conv: Conversation, draft: Draft) -> int | None:
    """After an agent's approval was sent: keep it as a confirmation when it is one; the row's id, or None."""
    if not ctx.conversations.settings.tandem_learn_from_approvals or ctx.kb is None:
        return None
    decided = ctx.store.draft(draft.id)
    if decided is None or decided.status != DraftStatus.APPROVED or decided.drafter != DRAFTER:
        return None
    sources = decided.source_list
    article = ctx.kb.article(sources[0].id) if sources else None
    got = received(ctx.store, conv)
    if article is None or got is None or got.status != DraftStatus.APPROVED or got.article_id != article.id:
        return None
    question = ctx.conversations.policy.text(got.question).strip()
    if not question:
        return None
    row, learned = confirm(ctx.store, ctx.kb, article_id=article.id, question=question, agent=ctx.who,
                           platform=conv.platform, workspace=conv.workspace, conversation_id=conv.id,
                           draft_id=decided.id)
    ctx.conversations.audit(ctx.actor, AuditAction.CONFIRM, conversation_id=conv.id, draft_id=decided.id,
                            article=article.id, confirmation=row, learned=learned)
    return row
