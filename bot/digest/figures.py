"""Compute the digest's figures for a period [start, end) and the period before it, from the SQLite log.

All SQL lives in `storage.analytics`; this module turns its counts and value lists into a `Digest`:
medians and 90th percentiles, rates, local-time days and hours, per-agent rows and grouped KB gaps (each
with the conversation where an agent already answered it, if any).
A period is the last N local calendar days in TANDEM_TIMEZONE up to a moment (today so far included);
the scheduled post passes the local midnight before it fires, so Monday's post covers Monday to Sunday
whole, and each day of the chart is a real calendar day. The previous period is the same stretch N days
earlier, so a partial today is compared with the same part of that day.
"""
from __future__ import annotations

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from bot.digest.gaps import Gap, group_questions, mark_answers
from bot.ports import Analytics
from vocab import AuditAction
from vocab.times import iso

OUTCOMES = ("resolved_bot", "resolved_agent", "with_agent", "open")
OUTCOME_LABELS = {
    "resolved_bot": "Resolved by the bot",
    "resolved_agent": "Resolved with an agent",
    "with_agent": "Handed to an agent",
    "open": "Open with the bot",
}
DECISIONS = ("approved", "edited", "rejected", "auto_sent")  # what became of a day's drafts, as the chart shows it
DECISION_LABELS = {"approved": "Approved unchanged", "edited": "Edited, then sent", "rejected": "Rejected",
                   "auto_sent": "Sent automatically"}
DRAFT_STATUSES = ("approved", "edited", "rejected", "superseded", "auto_sent", "failed", "pending", "drafting")


@dataclass
class Timing:
    """Seconds: median and 90th percentile (nearest rank) over `count` values."""

    count: int = 0
    median: float | None = None
    p90: float | None = None

    @classmethod
    def of(cls, values: list[float]) -> "Timing":
        values = sorted(v for v in values if v is not None and v >= 0)
        if not values:
            return cls()
        return cls(len(values), statistics.median(values), values[math.ceil(0.9 * len(values)) - 1])


@dataclass
class AgentRow:
    agent: str
    conversations: int = 0
    approvals: int = 0
    edits: int = 0
    rejections: int = 0
    median_response: float | None = None


@dataclass
class TargetRow:
    """One response-time target (first | next) over a period: met, missed, and the median time past it."""

    met: int = 0
    missed: int = 0
    median_past: float | None = None

    @property
    def share_met(self) -> float | None:
        return _rate(self.met, self.met + self.missed)


@dataclass
class Day:
    date: date
    outcomes: dict[str, int]
    first_response_median: float | None
    decisions: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DECISIONS, 0))

    @property
    def conversations(self) -> int:
        return sum(self.outcomes.values())

    @property
    def acceptance(self) -> float | None:
        """Approved unchanged / drafts a person decided on (approved, edited, rejected) that day."""
        decided = self.decisions["approved"] + self.decisions["edited"] + self.decisions["rejected"]
        return self.decisions["approved"] / decided if decided else None


@dataclass
class Figures:
    start: datetime
    end: datetime
    opened: int = 0
    resolved: int = 0
    still_open: int = 0
    by_platform: dict[str, dict[str, int]] = field(default_factory=dict)
    drafts_created: int = 0
    drafts: dict[str, int] = field(default_factory=dict)
    acceptance: float | None = None
    edit_share_median: float | None = None
    handoffs: dict[str, int] = field(default_factory=dict)
    takeovers: int = 0
    handbacks: int = 0
    first_response: Timing = field(default_factory=Timing)
    resolution: Timing = field(default_factory=Timing)
    draft_wait: Timing = field(default_factory=Timing)
    csat_average: float | None = None
    csat_ratings: int = 0
    csat_response_rate: float | None = None
    agents: list[AgentRow] = field(default_factory=list)
    kb_gaps: list[Gap] = field(default_factory=list)
    hours: list[int] = field(default_factory=lambda: [0] * 24)  # conversations opened per local hour
    weekdays: list[int] = field(default_factory=lambda: [0] * 7)  # Monday first
    days: list[Day] = field(default_factory=list)
    targets: dict[str, TargetRow] = field(default_factory=dict)  # "first" / "next" (TANDEM_SLA_*)
    breaches: dict[str, int] = field(default_factory=dict)  # missed targets per agent ("" : nobody assigned)
    # teaching (bot/teach.py): questions taught, articles created, drafts drawn from taught articles, approved as is
    taught: tuple[int, int, int, int] = (0, 0, 0, 0)
    weekly_acceptance: list[float | None] = field(default_factory=list)  # 8 weeks up to the period's end, oldest first
    weekly_decided: list[int] = field(default_factory=list)  # drafts a person decided in each of those weeks

    @property
    def handoffs_total(self) -> int:
        return sum(self.handoffs.values())


@dataclass
class Digest:
    timezone: str
    days: int
    current: Figures
    previous: Figures


def period_bounds(now: datetime, days: int, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The last `days` local calendar days up to and including `now`, as a half-open [start, end).

    `now` at exactly local midnight (what the scheduled post passes) means the `days` whole days before it.
    """
    local = now.astimezone(tz)
    at_midnight = local.timetz().replace(tzinfo=None) == time(0)
    end = now if at_midnight else now + timedelta(microseconds=1)
    last_day = local.date() - timedelta(days=1) if at_midnight else local.date()
    return datetime.combine(last_day - timedelta(days=days - 1), time(0), tz), end


def shift_days(moment: datetime, days: int, tz: ZoneInfo) -> datetime:
    """The same local wall-clock time `days` days earlier (DST-safe)."""
    local = moment.astimezone(tz)
    return datetime.combine(local.date() - timedelta(days=days), local.timetz().replace(tzinfo=None), tz)


class _Buckets:
    """Maps analytics' 15-minute UTC buckets to local (date, hour), cached: a week has at most 672."""

    def __init__(self, tz: ZoneInfo):
        self.tz = tz
        self.cache: dict[str, datetime] = {}

    def local(self, bucket: str) -> datetime:
        hit = self.cache.get(bucket)
        if hit is None:
            hour, quarter = bucket.split("|")
            utc = datetime.fromisoformat(hour + ":00").replace(tzinfo=timezone.utc)
            hit = self.cache[bucket] = (utc + timedelta(minutes=15 * int(quarter))).astimezone(self.tz)
        return hit


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _outcome(state: str, human: int) -> str:
    """The chart's stack: how a conversation opened in the period stands now."""
    if state == "resolved":
        return "resolved_agent" if human else "resolved_bot"
    return "with_agent" if state in ("waiting_human", "human") else "open"


def compute_figures(
    q: Analytics, start: datetime, end: datetime, tz: ZoneInfo, *,
    low_confidence: float = 0.45, full: bool = True,
) -> Figures:
    """Figures for [start, end). `full=False` skips what is only shown for the current period
    (agents, KB gaps, busiest hours); the days are computed for both, the chart compares them."""
    a, b = iso(start), iso(end)
    f = Figures(start, end)
    buckets = _Buckets(tz)

    per_day: dict[date, dict[str, int]] = defaultdict(lambda: dict.fromkeys(OUTCOMES, 0))
    platforms: dict[str, dict[str, int]] = {}
    frt_by_day: dict[date, list[float]] = defaultdict(list)
    resolutions, responses = [], []
    for bucket, platform, state, human, resolution_s, frt_s in q.conversations(a, b):
        p = platforms.get(platform) or platforms.setdefault(platform, {"opened": 0, "resolved": 0, "still_open": 0})
        p["opened"] += 1
        p["resolved" if state == "resolved" else "still_open"] += 1
        if resolution_s is not None:
            resolutions.append(resolution_s)
        if frt_s is not None:
            responses.append(frt_s)
        local = buckets.local(bucket)
        per_day[local.date()][_outcome(state, human)] += 1
        if frt_s is not None and frt_s >= 0:
            frt_by_day[local.date()].append(frt_s)
        if full:
            f.hours[local.hour] += 1
            f.weekdays[local.weekday()] += 1
    f.by_platform = dict(sorted(platforms.items()))
    f.opened = sum(p["opened"] for p in platforms.values())
    f.resolved = sum(p["resolved"] for p in platforms.values())
    f.still_open = f.opened - f.resolved
    f.resolution, f.first_response = Timing.of(resolutions), Timing.of(responses)

    counts = q.draft_status_counts(a, b)
    f.drafts_created = sum(counts.values())
    f.drafts = {s: counts.get(s, 0) for s in DRAFT_STATUSES}
    decided = f.drafts["approved"] + f.drafts["edited"] + f.drafts["rejected"]
    f.acceptance = _rate(f.drafts["approved"], decided)
    shares = q.edit_shares(a, b)
    f.edit_share_median = statistics.median(shares) if shares else None
    waits = q.draft_waits(a, b)
    f.draft_wait = Timing.of([s for _, s in waits])

    f.handoffs = dict(sorted(q.handoffs_by_reason(a, b).items(), key=lambda kv: (-kv[1], kv[0])))
    actions = q.action_counts(a, b, (AuditAction.TAKEOVER, AuditAction.HANDBACK))
    f.takeovers, f.handbacks = actions.get("takeover", 0), actions.get("handback", 0)

    avg, n, rated = q.csat(a, b)
    f.csat_average, f.csat_ratings, f.csat_response_rate = avg, n, _rate(rated, f.resolved)
    decisions: dict[date, dict[str, int]] = defaultdict(lambda: dict.fromkeys(DECISIONS, 0))
    for bucket, status, n in q.draft_status_by_bucket(a, b):
        if status in DECISIONS:
            decisions[buckets.local(bucket).date()][status] += n
    day, last = start.astimezone(tz).date(), (end.astimezone(tz) - timedelta(microseconds=1)).date()
    while day <= last:
        frt = frt_by_day.get(day)
        f.days.append(Day(day, dict(per_day[day]), statistics.median(frt) if frt else None, dict(decisions[day])))
        day += timedelta(days=1)
    f.targets, f.breaches = _targets(q.response_targets(a, b))
    if not full:
        return f

    agent_waits: dict[str, list[float]] = defaultdict(list)
    for agent, seconds in waits:
        if agent:
            agent_waits[agent].append(seconds)
    f.agents = _agents(q.agent_activity(a, b), agent_waits)
    asked = q.knowledge_gaps(a, b, low_confidence)
    f.kb_gaps = group_questions([text for text, _ in asked], conversations=[conv for _, conv in asked])
    mark_answers(f.kb_gaps, q.last_answers(sorted({c for gap in f.kb_gaps for c in gap.conversations})))
    f.taught = q.teaching(a, b)
    for w in range(WEEKS - 1, -1, -1):
        counts = q.draft_status_counts(iso(end - timedelta(weeks=w + 1)), iso(end - timedelta(weeks=w)))
        f.weekly_acceptance.append(_acceptance(counts))
        f.weekly_decided.append(sum(counts.get(k, 0) for k in PERSON_DECISIONS))
    return f


WEEKS = 8


PERSON_DECISIONS = ("approved", "edited", "rejected")


def _acceptance(counts: dict[str, int]) -> float | None:
    """Drafts approved unchanged / drafts decided by a person (approved, edited, rejected)."""
    return _rate(counts.get("approved", 0), sum(counts.get(k, 0) for k in PERSON_DECISIONS))


def _targets(rows: list[tuple]) -> tuple[dict[str, TargetRow], dict[str, int]]:
    targets: dict[str, TargetRow] = {}
    past: dict[str, list[float]] = defaultdict(list)
    breaches: dict[str, int] = defaultdict(int)
    for kind, met, past_s, agent in rows:
        row = targets.setdefault(kind, TargetRow())
        if met:
            row.met += 1
            continue
        row.missed += 1
        breaches[agent] += 1
        if past_s is not None:
            past[kind].append(past_s)
    for kind, row in targets.items():
        row.median_past = Timing.of(past[kind]).median
    return dict(sorted(targets.items())), dict(sorted(breaches.items(), key=lambda kv: (-kv[1], kv[0])))


def _agents(activity: list[tuple], waits: dict[str, list[float]]) -> list[AgentRow]:
    """Per agent: their actions in the period, and how long the drafts they decided had waited (median)."""
    rows = {actor: AgentRow(actor, n, approvals or 0, edits or 0, rejections or 0)
            for actor, n, approvals, edits, rejections in activity}
    for agent, values in waits.items():
        rows.setdefault(agent, AgentRow(agent)).median_response = Timing.of(values).median
    return sorted(rows.values(), key=lambda r: (-r.conversations, -r.approvals - r.edits, r.agent))


def build_digest(
    q: Analytics, *, days: int = 7, tz: ZoneInfo | str = "UTC", now: datetime | None = None,
    low_confidence: float = 0.45,
) -> Digest:
    """The digest for the last `days` local days up to `now` (today so far included), compared with the same
    stretch `days` earlier. Pass a local midnight as `now` for whole days (the scheduled post does)."""
    tz = ZoneInfo(tz) if isinstance(tz, str) else tz
    now = now or datetime.now(timezone.utc)
    start, end = period_bounds(now, days, tz)
    current = compute_figures(q, start, end, tz, low_confidence=low_confidence)
    previous = compute_figures(q, shift_days(start, days, tz), shift_days(end, days, tz), tz,
                               low_confidence=low_confidence, full=False)
    return Digest(tz.key, days, current, previous)
