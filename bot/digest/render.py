"""Turn a `Digest` into what people read: a `PostReport` for the platforms, plain text, or JSON.

The PostReport is the single layout (headline fields plus short sections); the text form for the CLI
and `/tandem digest` is the same content laid out as lines, so the channel post and the command agree.
Section bodies stay short (at most ~1000 characters) to fit Discord embed fields and Slack blocks.
"""
from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime, timedelta
from typing import Any

from bot.digest.figures import OUTCOME_LABELS, Digest, Figures, Timing
from bot.digest.gaps import Gap
from vocab import PostReport
from bot.texts import duration

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MAX_BODY = 1000
MAX_AGENTS = 10


def percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.0f}%"


def count_change(now: int, before: int) -> str:
    if before == 0:
        return "(new)" if now else "(=)"
    change = (now - before) / before * 100
    return f"({change:+.0f}% vs {before})"


def rate_change(now: float | None, before: float | None) -> str:
    if now is None or before is None:
        return ""
    return f"({(now - before) * 100:+.0f} pts)"


def time_change(now: float | None, before: float | None) -> str:
    if now is None or before is None:
        return ""
    sign = "+" if now >= before else "-"
    return f"({sign}{duration(abs(now - before))})"


def period_label(digest: Digest) -> str:
    start = digest.current.start
    last = digest.current.end - timedelta(microseconds=1)
    fmt = "%a %d %b %Y"
    return f"{start.strftime(fmt)} - {last.strftime(fmt)} ({digest.timezone})"


def _clip(lines: list[str]) -> str:
    body = "\n".join(lines) or "none"
    return body if len(body) <= MAX_BODY else body[: MAX_BODY - 1].rsplit("\n", 1)[0] + "\n…"


def _sections(cur: Figures, prev: Figures) -> list[tuple[str, str]]:
    d = cur.drafts
    conv = [f"{cur.opened} opened {count_change(cur.opened, prev.opened)}, {cur.resolved} resolved, "
            f"{cur.still_open} still open"]
    conv += [f"{name}: {p['opened']} opened, {p['resolved']} resolved, {p['still_open']} still open"
             for name, p in cur.by_platform.items()]
    drafts = [
        f"{cur.drafts_created} created {count_change(cur.drafts_created, prev.drafts_created)}",
        f"approved unchanged {d['approved']}, edited {d['edited']} (median edit "
        f"{percent(cur.edit_share_median)} of the draft), rejected {d['rejected']}",
        f"superseded {d['superseded']}, auto-sent {d['auto_sent']}, failed {d['failed']}, "
        f"still pending {d['pending'] + d['drafting']}",
    ]
    handoffs = [f"{cur.handoffs_total} handoffs {count_change(cur.handoffs_total, prev.handoffs_total)}"]
    handoffs += [f"{reason}: {n}" for reason, n in cur.handoffs.items()]
    handoffs.append(f"takeovers {cur.takeovers}, handed back {cur.handbacks}")
    speed = [
        _timing("first response", cur.first_response, prev.first_response),
        _timing("resolution", cur.resolution, prev.resolution),
        _timing("drafts waited for an agent", cur.draft_wait, prev.draft_wait),
    ]
    csat = [f"{_csat(cur)} {rate_change(cur.csat_response_rate, prev.csat_response_rate)}".rstrip()]
    agents = [
        f"{r.agent}: {r.conversations} conversations, {r.approvals} approved, {r.edits} edited, "
        f"{r.rejections} rejected, median response {duration(r.median_response)}"
        for r in cur.agents[:MAX_AGENTS]
    ]
    if len(cur.agents) > MAX_AGENTS:
        agents.append(f"and {len(cur.agents) - MAX_AGENTS} more")
    gaps = [f"{g.count}x \"{g.question}\"" + (f" (also: {'; '.join(g.examples[:2])})" if g.examples else "")
            + f" — {_answer(g)}" for g in cur.kb_gaps]
    return [
        ("Conversations", _clip(conv)),
        ("Drafts", _clip(drafts)),
        ("Handoffs", _clip(handoffs)),
        ("Speed", _clip(speed)),
        ("CSAT", _clip(csat)),
        ("Agents", _clip(agents)),
        ("Knowledge-base gaps (articles to write)", _clip(gaps)),
        ("Busiest times", _clip(_busiest(cur))),
        *([("Response-time targets", _clip(_targets(cur, prev)))] if cur.targets or prev.targets else []),
        *([("Teaching", _clip(_teaching(cur)))] if any(cur.taught) else []),
    ]


def _answer(gap: Gap) -> str:
    """Whether an agent already answered this gap, and the command that turns that answer into an article."""
    if gap.agent_answer is not None:
        return f"agent answer in conversation #{gap.agent_answer}: `teach {gap.agent_answer}`"
    if gap.taught is not None:
        return f"taught from conversation #{gap.taught}"
    return "no agent answer yet"


def _teaching(cur: Figures) -> list[str]:
    questions, articles, drafts, unchanged = cur.taught
    weeks = " ".join(percent(r) for r in cur.weekly_acceptance)
    return [f"{questions} questions taught, {articles} new articles",
            f"{drafts} drafts drawn from taught content, {unchanged} approved unchanged",
            f"acceptance per week, last 8 (oldest first): {weeks}"]


def _targets(cur: Figures, prev: Figures) -> list[str]:
    """Each target's share met (with the change), the median time past it of those missed, and who missed."""
    lines = []
    for kind, row in cur.targets.items():
        before = prev.targets.get(kind)
        change = rate_change(row.share_met, before.share_met if before else None)
        late = f", missed by a median of {duration(row.median_past)}" if row.median_past is not None else ""
        lines.append(f"{kind} reply: {percent(row.share_met)} met ({row.met} of {row.met + row.missed}){late} "
                     f"{change}".rstrip())
    if cur.breaches:
        lines.append("missed, by agent: " + ", ".join(f"{agent or 'unassigned'} {n}" for agent, n in cur.breaches.items()))
    return lines


def _timing(label: str, now: Timing, before: Timing) -> str:
    change = time_change(now.median, before.median)
    return f"{label}: median {duration(now.median)}{' ' + change if change else ''}, p90 {duration(now.p90)}"


def _csat(f: Figures) -> str:
    if not f.csat_ratings:
        return "no ratings"
    return (f"{f.csat_average:.2f} / 5 from {f.csat_ratings} ratings, "
            f"response rate {percent(f.csat_response_rate)}")


def _busiest(f: Figures) -> list[str]:
    if not sum(f.hours):
        return []
    days = sorted(range(7), key=lambda i: (-f.weekdays[i], i))[:3]
    hours = sorted(range(24), key=lambda h: (-f.hours[h], h))[:3]
    return [
        "days: " + ", ".join(f"{WEEKDAYS[i]} ({f.weekdays[i]})" for i in days if f.weekdays[i]),
        "hours: " + ", ".join(f"{h:02d}:00-{(h + 1) % 24:02d}:00 ({f.hours[h]})" for h in hours if f.hours[h]),
    ]


def to_report(digest: Digest, image_path: str | None = None) -> PostReport:
    cur, prev = digest.current, digest.previous
    fields = (
        ("Acceptance", f"{percent(cur.acceptance)} {rate_change(cur.acceptance, prev.acceptance)}".strip()),
        ("Conversations", f"{cur.opened} {count_change(cur.opened, prev.opened)}"),
        ("Resolved", f"{cur.resolved} {count_change(cur.resolved, prev.resolved)}"),
        ("First response (median)",
         f"{duration(cur.first_response.median)} {time_change(cur.first_response.median, prev.first_response.median)}"
         .strip()),
        ("Handoffs", f"{cur.handoffs_total} {count_change(cur.handoffs_total, prev.handoffs_total)}"),
        ("CSAT", f"{cur.csat_average:.2f} / 5 ({cur.csat_ratings})" if cur.csat_ratings else "no ratings"),
    )
    decided = cur.drafts["approved"] + cur.drafts["edited"] + cur.drafts["rejected"]
    summary = (
        f"{period_label(digest)}. Draft acceptance {percent(cur.acceptance)} ({cur.drafts['approved']} of {decided} "
        f"decided drafts approved unchanged); {cur.opened} conversations opened, {cur.resolved} resolved, "
        f"{cur.handoffs_total} handed off."
        if cur.opened or cur.drafts_created else f"{period_label(digest)}. No conversations in this period."
    )
    return PostReport(
        title=f"Tandem weekly digest: last {digest.days} days" if digest.days != 7 else "Tandem weekly digest",
        summary=summary,
        fields=fields,
        sections=tuple(_sections(cur, prev)),
        image_path=image_path,
    )


def to_text(digest: Digest) -> str:
    report = to_report(digest)
    lines = [report.title, report.summary, ""]
    lines += [f"{label}: {value}" for label, value in report.fields]
    for heading, body in report.sections:
        lines += ["", f"{heading}:"] + [f"  {line}" for line in body.splitlines()]
    return "\n".join(lines)


def _plain(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def to_json(digest: Digest) -> str:
    data = _plain(dataclasses.asdict(digest))
    data["outcome_labels"] = OUTCOME_LABELS
    return json.dumps(data, indent=2, ensure_ascii=False)
