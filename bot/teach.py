"""Humans teach the bot: the customer's question and the answer they actually received become knowledge.

`teach <conversation> [article|new]` looks at what went out. An answer drafted from article X (approved, edited
or sent automatically) files the customer's question under X, skipping questions X already has or nearly has;
an edit that changed the substance is kept as a *version* of X's answer that a lead may accept, never applied
silently. An answer an agent wrote (after a takeover, a `reply`, a rejected draft), or `new`, becomes a new
article: a title proposed from the question, the question as its first example, the answer as its body, and
front matter saying who taught it, when and from where. Naming an article files the question under it.

Whatever teaching creates or changes is `status: draft` until a lead approves it (bot/kb_review.py): the
article drafts at once, so the next paraphrase finds it without a restart, but every draft resting on it waits
for a person (bot/rules.py `hold_reasons`). A question added to a published article makes that article a
draft too: the answer is unchanged but which questions reach it is not reviewed yet, and "never auto-sent
until approved" admits no exception. A taught answer is kept in the language it is written in (bot/language.py,
the conversation's language when it is too short to tell): a new article's body, or, for a version of an article
whose body is in another language, its `answers: {<lang>: ...}` entry. Each taught pair is a row of `lessons`; `tandem kb eval --taught`
replays them.
"""
from __future__ import annotations

from dataclasses import dataclass

from rapidfuzz import fuzz

from bot import kb_edit
from bot.kb import KBError
from bot.language import detect
from bot.ports import Row, Store
from bot.registry import CommandError, Context
from bot.texts import clean_text, clip
from vocab import AuditAction, CommandResult, Conversation, DraftStatus, State

CARD_WINDOW = 40  # the latest messages a card (and the answer it offers to teach) is built from

SUBSTANTIAL = 85  # an edit whose rapidfuzz ratio to the draft is below this changed the substance, not the wording
QUESTION_CHARS = 500
READ_ONLY = ("Teaching writes into the knowledge-base folder, and this Tandem runs on the bundled sample. Set "
             "TANDEM_KB to a folder of your own (`tandem kb init DIR` copies the sample there; keep it in git), "
             "restart, and teach again.")


@dataclass(frozen=True)
class Received:
    """What a conversation's customer asked last and what they were answered."""

    question: str
    answer: str
    article_id: str | None  # the article the answer was drafted from (None: an agent wrote it)
    status: str  # the draft's decision (approved, edited, auto_sent), or "agent"
    substantial: bool  # an agent's edit changed the substance of the drafted answer
    message_id: int  # the last message of the answer

    @property
    def by_person(self) -> bool:
        return self.status in (DraftStatus.APPROVED, DraftStatus.EDITED, "agent")

    @property
    def written_by_agent(self) -> bool:
        return self.status == "agent" or self.substantial


def same_substance(drafted: str, sent: str) -> bool:
    return fuzz.ratio(" ".join(drafted.split()).lower(), " ".join(sent.split()).lower()) >= SUBSTANTIAL


def received(store: Store, conv: Conversation, messages: list[Row] | None = None) -> Received | None:
    """The last answer that reached the customer (the agent's consecutive messages, or one sent draft) and the
    customer messages it answered; None when nothing has been answered yet."""
    messages = messages if messages is not None else store.recent_messages(conv.id, limit=CARD_WINDOW)
    live = [m for m in messages if not m["deleted_at"] and m["author_kind"] in ("customer", "bot", "agent")]
    end = next((i for i in range(len(live) - 1, -1, -1) if live[i]["author_kind"] != "customer"), None)
    if end is None:
        return None
    last = live[end]
    start = end
    if last["author_kind"] == "agent":
        while start > 0 and live[start - 1]["author_kind"] == "agent":
            start -= 1
    asked = start
    while asked > 0 and live[asked - 1]["author_kind"] == "customer":
        asked -= 1
    question = clip(clean_text(" ".join(m["text"] for m in live[asked:start])), QUESTION_CHARS)
    if not question:
        return None
    if last["author_kind"] == "agent":
        answer = "\n\n".join(m["text"] for m in live[start:end + 1])
        return Received(question, answer, None, "agent", False, last["id"])
    draft = store.draft(last["draft_id"]) if last["draft_id"] else None
    if draft is None:
        return None
    sources = draft.source_list
    answer = draft.final_text or draft.text or last["text"]
    substantial = draft.status == DraftStatus.EDITED and not same_substance(draft.text or "", answer)
    return Received(question, answer, sources[0].id if sources else None, str(draft.status), substantial, last["id"])


def untaught(store: Store, conv: Conversation, messages: list[Row] | None = None,
             lessons: list[Row] | None = None) -> Received | None:
    """The answer a person sent that no lesson was taken from yet (what the card offers to save); `lessons`: the
    conversation's lessons, when the caller has read them already."""
    got = received(store, conv, messages)
    if got is None or not got.by_person:
        return None
    if lessons is None:
        lessons = store.lessons(conversation_id=conv.id)
    if any(lesson["question"] == got.question for lesson in lessons):
        return None
    return got


def card_offer(store: Store, conv: Conversation, messages: list[Row]) -> tuple[tuple[str, ...], str]:
    """The teaching buttons of a conversation's card and a note for its label: Save to knowledge base once a person's
    answer went out (on a resolved card, when an agent wrote or reworked it), Approve/Discard while a lesson taught
    from it waits for a lead. A lesson is only ever taken from an answer that went out, so a conversation whose
    messages are all in `messages` (fewer than the window) and hold no answer has none: nothing is read then."""
    if len(messages) < CARD_WINDOW and not any(m["author_kind"] in ("bot", "agent") for m in messages):
        return (), ""
    lessons = store.lessons(conversation_id=conv.id)
    if any(lesson["status"] == "draft" for lesson in lessons):
        return ("approve_taught", "discard_taught"), "📚 taught: waits for a lead's approval"
    got = untaught(store, conv, messages, lessons)
    if got is None:
        return (), ""
    if conv.state == State.RESOLVED:
        if not got.written_by_agent:
            return (), ""
        return ("teach",), "💡 an agent wrote this answer: save it to the knowledge base?"
    return ("teach",), ""


def stamp(iso_time: str) -> str:
    """A time as people read it in front matter: to the second, UTC."""
    return iso_time[:19] + "Z"


def writable_kb(ctx: Context):
    if ctx.kb is None:
        raise CommandError("Teaching needs the knowledge-base drafter (TANDEM_DRAFTER=kb or llm); "
                           "this Tandem drafts without a knowledge base.")
    if not ctx.kb.writable:
        raise CommandError(READ_ONLY)
    return ctx.kb


def write_article(ctx: Context, conv: Conversation | None, article_id: str, text: str, why: str):
    """Write one article file (atomically, into the index at once) and log the write."""
    try:
        article = ctx.kb.write(article_id, text)
    except (KBError, OSError) as exc:
        raise CommandError(f"Could not write {article_id}.md: {exc}. Nothing was taught.") from exc
    ctx.conversations.audit(ctx.actor, AuditAction.KB_WRITE, conversation_id=conv.id if conv else None,
                            article=article_id, path=article.path, why=why)
    return article


def article_text(ctx: Context, article_id: str) -> str:
    return ctx.kb.path_for(article_id).read_text(encoding="utf-8")


def answer_language(conv: Conversation, answer: str) -> str:
    """The language the answer is written in; the conversation's when the text is too short to tell."""
    return detect(answer, fallback=conv.language or None)[0]


def _lesson(ctx: Context, conv: Conversation, got: Received, article_id: str, kind: str, *, answer: str = "",
            status: str = "draft") -> int:
    language = answer_language(conv, answer or got.answer)
    fields = dict(conversation_id=conv.id, platform=conv.platform, workspace=conv.workspace, question=got.question,
                  answer=answer, language=language, article_id=article_id, kind=kind,
                  taught_by=ctx.who, status=status)
    lesson_id = ctx.store.add_lesson(**fields)
    if status != "draft":
        ctx.store.decide_lessons([lesson_id], status, "tandem")
    return lesson_id


def _new_id(ctx: Context, title: str, conv: Conversation) -> str:
    base = kb_edit.slug(title) or f"taught-{conv.id}"
    candidate, n = base, 2
    while ctx.kb.article(candidate) is not None or ctx.kb.path_for(candidate).exists():
        candidate, n = f"{base}-{n}", n + 1
    return candidate


def _new_article(ctx: Context, conv: Conversation, got: Received, answer: str) -> tuple[str, list[str]]:
    title = kb_edit.propose_title(got.question)
    article_id = _new_id(ctx, title, conv)
    taught = {"taught_by": ctx.who, "taught_at": stamp(ctx.store.now()),
              "taught_from": f"{conv.platform} conversation #{conv.id}"}
    text = kb_edit.new_article(title, got.question, answer, answer_language(conv, answer), taught)
    write_article(ctx, conv, article_id, text, "new article")
    _lesson(ctx, conv, got, article_id, "article", answer=answer)
    return article_id, [f"New article `{article_id}` (“{title}”) written from your answer, with the question "
                        "as its first example."]


def _file_question(ctx: Context, conv: Conversation, got: Received, article) -> list[str]:
    known = kb_edit.near_duplicate(got.question, article.questions)
    if known is not None:
        _lesson(ctx, conv, got, article.id, "question", status="approved")
        return [f"`{article.id}` already has that question (“{clip(known, 80)}”), so it was not added again."]
    text = kb_edit.add_question(article_text(ctx, article.id), got.question, draft=True)
    write_article(ctx, conv, article.id, text, "question added")
    _lesson(ctx, conv, got, article.id, "question")
    return [f"The question was added to `{article.id}` (“{article.title}”)."]


def teach(ctx: Context, conv: Conversation, target: str | None) -> CommandResult:
    writable_kb(ctx)
    got = received(ctx.store, conv)
    if got is None:
        raise CommandError(f"#{conv.id} has no answer that reached the customer yet, so there is nothing to teach.")
    answer = ctx.conversations.policy.text(got.answer).strip()
    got = Received(ctx.conversations.policy.text(got.question).strip(), answer, got.article_id, got.status,
                   got.substantial, got.message_id)
    target = (target or "").strip().lower() or None
    if target not in (None, "new"):
        article = ctx.kb.article(target)
        if article is None:
            raise CommandError(f"There is no article `{target}`. Name one by its file name, or use `new`.")
        lines = _file_question(ctx, conv, got, article)
    elif target == "new" or got.article_id is None or ctx.kb.article(got.article_id) is None:
        article_id, lines = _new_article(ctx, conv, got, answer)
        article = ctx.kb.article(article_id)
    else:
        article = ctx.kb.article(got.article_id)
        lines = _file_question(ctx, conv, got, article)
        if got.substantial:
            _lesson(ctx, conv, got, article.id, "version", answer=answer)
            lines.append(f"Your edit changed the answer itself: it waits as a new version of `{article.id}` "
                         "for a lead to accept.")
    pending = [lesson["id"] for lesson in ctx.store.lessons(conversation_id=conv.id, status="draft")]
    ctx.conversations.audit(ctx.actor, AuditAction.TEACH, conversation_id=conv.id, article=article.id,
                            lessons=pending, source=got.status)
    ctx.conversations.refresh_card(conv)
    if pending:
        lines.append(f"`{article.id}` is a draft until a lead approves it (`kb approve {article.id}`, or the "
                     "card's Approve for the KB button): its drafts wait for review, never sent automatically.")
    return CommandResult(" ".join(lines), data={"article": article.id, "lessons": pending})
