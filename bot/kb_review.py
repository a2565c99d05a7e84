"""A lead's review of what was taught: list what waits, approve an article (it may then be sent automatically),
or discard what teaching did to it.

Approving an article publishes it: `status: draft` leaves its front matter (with who approved it and when), an
answer version waiting for it becomes its answer (the body, or its `answers:` entry when the version was
written in another language), and every lesson waiting on it is approved. Discarding undoes teaching: an
article teaching created is removed, questions it added are taken out again, waiting versions are dropped.
Both are one commit-sized change to one Markdown file, so the knowledge base's git history reads like the
review itself.
"""
from __future__ import annotations

from bot import kb_edit
from bot.ports import Row
from bot.registry import CommandError, Context
from bot.teach import article_text, stamp, write_article, writable_kb
from bot.texts import clip
from vocab import AuditAction, CommandResult

KINDS = {"question": "question", "article": "new article", "version": "new answer version"}


def _waiting(ctx: Context, article_id: str) -> list[Row]:
    return ctx.store.lessons(status="draft", article_id=article_id)


def pending(ctx: Context) -> CommandResult:
    """Every article that waits for a lead: taught lessons, and draft articles written by hand."""
    lessons = ctx.store.lessons(status="draft")
    by_article: dict[str, list[Row]] = {}
    for lesson in lessons:
        by_article.setdefault(lesson["article_id"], []).append(lesson)
    kb = ctx.kb
    for article in (kb.articles if kb is not None else []):
        if article.is_draft:
            by_article.setdefault(article.id, [])
    if not by_article:
        return CommandResult("Nothing waits for approval in the knowledge base.", data={"articles": []})
    lines = []
    for article_id, rows in sorted(by_article.items()):
        article = kb.article(article_id) if kb is not None else None
        title = f" (“{article.title}”)" if article else " (file missing)"
        lines.append(f"`{article_id}`{title}: `kb approve {article_id}` or `kb discard {article_id}`")
        for row in rows:
            what = clip(row["question"], 120) if row["kind"] != "version" else clip(row["answer"], 160)
            lines.append(f"  · {KINDS.get(row['kind'], row['kind'])} by {row['taught_by']} from "
                         f"#{row['conversation_id']}: {what}")
        if not rows:
            lines.append("  · marked `status: draft` in its file")
    return CommandResult(f"{len(by_article)} article(s) wait for a lead:\n" + "\n".join(lines),
                         data={"articles": sorted(by_article), "lessons": [r["id"] for r in lessons]})


def _article(ctx: Context, article_id: str):
    writable_kb(ctx)
    article = ctx.kb.article(article_id)
    if article is None and not _waiting(ctx, article_id):
        raise CommandError(f"There is no article `{article_id}`. `kb pending` lists what waits for approval.")
    return article


def approve(ctx: Context, article_id: str) -> str:
    article = _article(ctx, article_id)
    rows = _waiting(ctx, article_id)
    if article is None:
        raise CommandError(f"`{article_id}.md` is no longer in the knowledge base (moved or removed by hand): "
                           f"`kb discard {article_id}` drops what was taught to it.")
    if not rows and not article.is_draft:
        return f"`{article_id}` is already published; nothing waits for approval."
    text = article_text(ctx, article_id)
    versions = [r for r in rows if r["kind"] == "version"]
    for version in versions:  # oldest first: the latest version is the one that stays
        text = kb_edit.set_answer(text, version["language"], version["answer"])
    write_article(ctx, None, article_id, kb_edit.publish(text, ctx.who, stamp(ctx.store.now())), "approved")
    ctx.store.decide_lessons([r["id"] for r in rows], "approved", ctx.who)
    ctx.conversations.audit(ctx.actor, AuditAction.KB_APPROVE, article=article_id, lessons=[r["id"] for r in rows],
                            versions=len(versions))
    _refresh_cards(ctx, rows)
    applied = f", with the new answer from #{versions[-1]['conversation_id']}" if versions else ""
    return f"`{article_id}` approved{applied}: it may now be sent automatically."


def discard(ctx: Context, article_id: str) -> str:
    article = _article(ctx, article_id)
    rows = _waiting(ctx, article_id)
    if not rows and (article is None or not article.is_draft):
        return f"Nothing taught to `{article_id}` waits for approval; nothing was discarded."
    created = any(r["kind"] == "article" for r in rows)
    if article is not None and (created or (not rows and article.is_draft)):
        ctx.kb.remove(article_id)
        ctx.conversations.audit(ctx.actor, AuditAction.KB_WRITE, article=article_id, path=article.path,
                                why="discarded: removed")
        done = f"`{article_id}` removed from the knowledge base"
    elif article is not None:
        added = {r["question"] for r in rows if r["kind"] == "question"}
        text = kb_edit.unpublish_marks(kb_edit.remove_questions(article_text(ctx, article_id), added))
        write_article(ctx, None, article_id, text, "discarded: taught questions removed")
        done = f"what was taught to `{article_id}` discarded; the article is as it was"
    else:
        done = f"the lessons for the missing `{article_id}` discarded"
    ctx.store.decide_lessons([r["id"] for r in rows], "discarded", ctx.who)
    ctx.conversations.audit(ctx.actor, AuditAction.KB_DISCARD, article=article_id, lessons=[r["id"] for r in rows])
    _refresh_cards(ctx, rows)
    return done[:1].upper() + done[1:] + "."


def _refresh_cards(ctx: Context, rows: list[Row]) -> None:
    for conversation_id in {r["conversation_id"] for r in rows if r["conversation_id"]}:
        conv = ctx.store.conversation(conversation_id)
        if conv is not None:
            ctx.conversations.refresh_card(conv)


def taught_from(ctx: Context, conversation_id: int) -> list[str]:
    """The articles with lessons from this conversation that still wait for a lead."""
    return sorted({r["article_id"] for r in ctx.store.lessons(conversation_id=conversation_id, status="draft")})
