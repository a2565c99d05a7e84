"""Every digest figure against values worked out by hand on a small fixed log.

The log (UTC, written through the store with a travelling clock):
  A slack   Tue 11 Mar 10:00  draft approved by alice after 120 s; reply seen 10:02:11 (first_response_at
                              stamped); resolved 10:30; rated 5
  B discord Wed 12 Mar 14:00  draft (confidence 0.3) edited by bob after 300 s, 4 of 10 chars; still open
  C slack   Thu 13 Mar 09:00  asks for a human: draft rejected by carol, handoff, alice takes over and replies
                              09:12:01, hands back; resolved 09:30; rated 3
  D slack   Sat 15 Mar 20:00  drafter fails (handoff), second message's draft superseded, third auto-sent
                              20:02:03; resolved 21:00
  E slack   Sun  9 Mar 23:00  (previous week in UTC, but Monday 00:00 in Amsterdam) approved by bob Mon 00:10,
                              resolved Mon 01:00, rated 4
"""
from __future__ import annotations

import struct
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.digest.chart import HEIGHT, WIDTH, render_chart
from bot.digest.figures import build_digest
from bot.digest.render import to_json, to_report, to_text
from storage.analytics import Analytics
from vocab import Address, ConversationChange, State
from storage import Store, open_db

UTC = timezone.utc
AMS = ZoneInfo("Europe/Amsterdam")
NOW = datetime(2025, 3, 17, 0, 0, tzinfo=UTC)  # Monday midnight: the week Mon 10 - Sun 16 March


class Clock:
    def __init__(self):
        self.t = datetime(2025, 3, 1, tzinfo=UTC)

    def __call__(self):
        return self.t

    def at(self, *args):
        self.t = datetime(*args, tzinfo=UTC)


def _reply(store, clock, cid, kind, text, platform, sent, seen, draft=None, author=""):
    clock.at(*sent)
    mid = store.append_message(cid, kind, text, platform, draft_id=draft, author_id=author, author_name=author)
    clock.at(*seen)
    store.mark_message_delivered(mid, f"p{mid}")


def _draft(store, clock, cid, mid, created, drafted, status="pending", text="abcdefghij", confidence=0.9):
    clock.at(*created)
    did = store.create_draft_job(cid, mid)
    clock.at(*drafted)
    store.complete_draft(did, status=status, text=text, sources=[], confidence=confidence, drafter="kb",
                         model=None, latency_ms=5.0)
    return did


def _open(store, clock, platform, when, text):
    clock.at(*when)
    conv = store.open_conversation(Address(platform, "C1", f"t{when}"), "cust", "Cust", "en")
    return conv.id, store.append_message(conv.id, "customer", text, platform)


def _resolve(store, clock, cid, when, human, rating=None):
    clock.at(*when)
    store.change_conversation(cid, ConversationChange(state=State.RESOLVED, resolved_at=store.now(), human_involved=bool(human)))
    if rating:
        clock.t += timedelta(minutes=1)
        store.add_rating(cid, rating, "cust")


@pytest.fixture
def db(tmp_path):
    db = open_db(tmp_path / "t.db")
    clock = Clock()
    s = Store(db, clock=clock)
    # A
    a, m = _open(s, clock, "slack", (2025, 3, 11, 10, 0), "where is my order")
    d = _draft(s, clock, a, m, (2025, 3, 11, 10, 0), (2025, 3, 11, 10, 0, 10))
    clock.at(2025, 3, 11, 10, 2, 10)
    s.decide_draft(d, "approved", "alice", final_text="abcdefghij", edit_distance=0)
    s.log_event("alice", "approve", conversation_id=a, draft_id=d)
    _reply(s, clock, a, "bot", "abcdefghij", "slack", (2025, 3, 11, 10, 2, 10), (2025, 3, 11, 10, 2, 11), d)
    s.change_conversation(a, ConversationChange(first_response_at=s.now()))  # as the outbox stamps it on delivery
    _resolve(s, clock, a, (2025, 3, 11, 10, 30), 1, rating=5)
    # B
    b, m = _open(s, clock, "discord", (2025, 3, 12, 14, 0), "How do I export invoices?")
    d = _draft(s, clock, b, m, (2025, 3, 12, 14, 0), (2025, 3, 12, 14, 0, 5), confidence=0.3)
    clock.at(2025, 3, 12, 14, 5, 5)
    s.decide_draft(d, "edited", "bob", final_text="abcdWXYZij", edit_distance=4)
    s.log_event("bob", "edit", conversation_id=b, draft_id=d)
    _reply(s, clock, b, "bot", "abcdWXYZij", "discord", (2025, 3, 12, 14, 5, 5), (2025, 3, 12, 14, 5, 7), d)
    # C
    c, m = _open(s, clock, "slack", (2025, 3, 13, 9, 0), "I want a human")
    d = _draft(s, clock, c, m, (2025, 3, 13, 9, 0), (2025, 3, 13, 9, 0, 30))
    clock.at(2025, 3, 13, 9, 0, 1)
    s.log_event("core", "handoff", conversation_id=c, reason="asked_for_human")
    clock.at(2025, 3, 13, 9, 1)
    s.decide_draft(d, "rejected", "carol", reject_reason="wrong")
    s.log_event("carol", "reject", conversation_id=c, draft_id=d)
    clock.at(2025, 3, 13, 9, 10)
    s.log_event("alice", "takeover", conversation_id=c)
    _reply(s, clock, c, "agent", "Hi, Alice here", "slack", (2025, 3, 13, 9, 12), (2025, 3, 13, 9, 12, 1),
           author="alice")
    s.log_event("alice", "reply", conversation_id=c)
    clock.at(2025, 3, 13, 9, 20)
    s.log_event("alice", "handback", conversation_id=c)
    _resolve(s, clock, c, (2025, 3, 13, 9, 30), 1, rating=3)
    # D
    dd, m1 = _open(s, clock, "slack", (2025, 3, 15, 20, 0), "Export invoices to CSV please")
    _draft(s, clock, dd, m1, (2025, 3, 15, 20, 0), (2025, 3, 15, 20, 0, 2), status="failed", text=None,
           confidence=None)
    s.log_event("core", "handoff", conversation_id=dd, reason="drafter_error")
    clock.at(2025, 3, 15, 20, 1)
    m2 = s.append_message(dd, "customer", "hello?", "slack")
    _draft(s, clock, dd, m2, (2025, 3, 15, 20, 1), (2025, 3, 15, 20, 1, 3), confidence=0.8)
    clock.at(2025, 3, 15, 20, 2)
    s.supersede_open_drafts(dd, "core")
    d3 = _draft(s, clock, dd, m2, (2025, 3, 15, 20, 2), (2025, 3, 15, 20, 2, 2), status="auto_sent")
    _reply(s, clock, dd, "bot", "abcdefghij", "slack", (2025, 3, 15, 20, 2, 2), (2025, 3, 15, 20, 2, 3), d3)
    _resolve(s, clock, dd, (2025, 3, 15, 21, 0), 0)
    # E, across the boundary
    e, m = _open(s, clock, "slack", (2025, 3, 9, 23, 0), "where is my order")
    d = _draft(s, clock, e, m, (2025, 3, 9, 23, 0), (2025, 3, 9, 23, 0, 10))
    clock.at(2025, 3, 10, 0, 10)
    s.decide_draft(d, "approved", "bob", final_text="abcdefghij", edit_distance=0)
    s.log_event("bob", "approve", conversation_id=e, draft_id=d)
    _reply(s, clock, e, "bot", "abcdefghij", "slack", (2025, 3, 10, 0, 10), (2025, 3, 10, 0, 10, 1), d)
    _resolve(s, clock, e, (2025, 3, 10, 1, 0), 1, rating=4)
    return db


def test_conversations_drafts_handoffs(db):
    cur = build_digest(Analytics(db), days=7, tz="UTC", now=NOW).current
    assert (cur.opened, cur.resolved, cur.still_open) == (4, 3, 1)
    assert cur.by_platform == {"discord": {"opened": 1, "resolved": 0, "still_open": 1},
                               "slack": {"opened": 3, "resolved": 3, "still_open": 0}}
    assert cur.drafts_created == 6
    assert {k: v for k, v in cur.drafts.items() if v} == {
        "approved": 1, "edited": 1, "rejected": 1, "failed": 1, "superseded": 1, "auto_sent": 1}
    assert cur.acceptance == pytest.approx(1 / 3)
    assert cur.edit_share_median == pytest.approx(0.4)
    assert cur.handoffs == {"asked_for_human": 1, "drafter_error": 1}
    assert (cur.takeovers, cur.handbacks) == (1, 1)


def test_timings_and_csat(db):
    cur = build_digest(Analytics(db), days=7, tz="UTC", now=NOW).current
    assert (cur.first_response.count, cur.first_response.median, cur.first_response.p90) == (4, 219, 721)
    assert (cur.resolution.median, cur.resolution.p90) == (1800, 3600)
    assert (cur.draft_wait.median, cur.draft_wait.p90) == (120, 300)
    assert (cur.csat_average, cur.csat_ratings) == (4.0, 2)
    assert cur.csat_response_rate == pytest.approx(2 / 3)


def test_agents_gaps_busiest_days(db):
    cur = build_digest(Analytics(db), days=7, tz="UTC", now=NOW).current
    rows = [(r.agent, r.conversations, r.approvals, r.edits, r.rejections, r.median_response) for r in cur.agents]
    # median response: how long the drafts they decided (created this week) had waited for them
    assert rows == [("bob", 2, 1, 1, 0, 300), ("alice", 2, 1, 0, 0, 120), ("carol", 1, 0, 0, 1, 30)]
    # one group: the most frequent wording (a tie here: the most recent) stands for it
    assert [(g.question, g.count, g.examples) for g in cur.kb_gaps] == [
        ("Export invoices to CSV please", 2, ["How do I export invoices?"])]
    assert cur.hours[20] == cur.hours[9] == cur.hours[10] == cur.hours[14] == 1 and sum(cur.hours) == 4
    assert cur.weekdays == [0, 1, 1, 1, 0, 1, 0]
    assert [d.date.day for d in cur.days] == [10, 11, 12, 13, 14, 15, 16]
    assert [d.first_response_median for d in cur.days] == [None, 131, 307, 721, None, 123, None]
    assert cur.days[1].outcomes == {"resolved_bot": 0, "resolved_agent": 1, "with_agent": 0, "open": 0}
    assert cur.days[2].outcomes["open"] == 1 and cur.days[5].outcomes["resolved_bot"] == 1


def test_previous_period_and_boundary(db):
    prev = build_digest(Analytics(db), days=7, tz="UTC", now=NOW).previous
    assert (prev.opened, prev.resolved, prev.drafts_created, prev.acceptance) == (1, 1, 1, 1.0)
    assert (prev.first_response.median, prev.resolution.median) == (4201, 7200)
    assert (prev.csat_average, prev.csat_ratings, prev.csat_response_rate) == (4.0, 1, 1.0)
    # In Amsterdam (UTC+1 in March) E opened at Monday 00:00 local: it belongs to the current week
    ams = build_digest(Analytics(db), days=7, tz="Europe/Amsterdam", now=datetime(2025, 3, 17, tzinfo=AMS))
    assert (ams.current.opened, ams.previous.opened) == (5, 0)
    assert ams.current.hours[21] == 1 and ams.current.hours[0] == 1  # D at 21:00 local, E at 00:00 local


def test_period_so_far_compares_with_same_stretch_before(db):
    # Thursday 13 March 12:00: Fri 7 .. Thu 13 noon, against Fri 28 Feb .. Thu 6 March noon
    digest = build_digest(Analytics(db), days=7, tz="UTC", now=datetime(2025, 3, 13, 12, tzinfo=UTC))
    cur, prev = digest.current, digest.previous
    just_after = timedelta(microseconds=1)  # what was recorded at `now` itself counts
    assert (cur.start, cur.end) == (datetime(2025, 3, 7, tzinfo=UTC), datetime(2025, 3, 13, 12, tzinfo=UTC) + just_after)
    assert (prev.start, prev.end) == (datetime(2025, 2, 28, tzinfo=UTC), datetime(2025, 3, 6, 12, tzinfo=UTC) + just_after)
    assert cur.opened == 4 and prev.opened == 0  # E, A, B, C; D is later
    assert [d.date.day for d in cur.days] == [7, 8, 9, 10, 11, 12, 13]


def test_empty_period(db):
    digest = build_digest(Analytics(db), days=7, tz="UTC", now=datetime(2020, 1, 6, tzinfo=UTC))
    cur = digest.current
    assert (cur.opened, cur.drafts_created, cur.acceptance, cur.first_response.median) == (0, 0, None, None)
    assert cur.csat_average is None and cur.csat_response_rate is None and cur.agents == [] and cur.kb_gaps == []
    assert len(cur.days) == 7 and sum(cur.hours) == 0
    assert "No conversations" in to_report(digest).summary
    assert "n/a" in to_text(digest)


def test_rendering(db, tmp_path):
    digest = build_digest(Analytics(db), days=7, tz="UTC", now=NOW)
    report = to_report(digest, image_path=str(tmp_path / "c.png"))
    fields = dict(report.fields)
    assert fields["Acceptance"] == "33% (-67 pts)"
    assert fields["Conversations"] == "4 (+300% vs 1)"
    assert fields["First response (median)"] == "3m 39s (-1h 06m)"
    assert report.image_path.endswith("c.png")
    assert all(len(body) <= 1000 for _, body in report.sections)
    assert '2x "Export invoices to CSV please"' in dict(report.sections)["Knowledge-base gaps (articles to write)"]
    assert '"acceptance": 0.333' in to_json(digest)


def test_chart_is_png_of_expected_size(db, tmp_path):
    path = render_chart(build_digest(Analytics(db), days=7, tz="UTC", now=NOW), tmp_path / "reports" / "chart.png")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    assert struct.unpack(">II", data[16:24]) == (WIDTH, HEIGHT)


def test_days_carry_the_drafts_by_decision_and_the_previous_period_has_days_too(db):
    digest = build_digest(Analytics(db), days=7, tz="UTC", now=NOW)
    cur = digest.current
    for status in ("approved", "edited", "rejected", "auto_sent"):
        assert sum(d.decisions[status] for d in cur.days) == cur.drafts[status], status
    decided = [d for d in cur.days if d.acceptance is not None]
    assert decided and all(0 <= d.acceptance <= 1 for d in decided)
    assert [d.date.day for d in digest.previous.days] == [3, 4, 5, 6, 7, 8, 9]


def test_chart_figure_has_three_panels_with_totals_the_period_before_and_the_acceptance_line(db):
    from matplotlib.container import BarContainer

    from bot.digest.chart import TITLES, build_figure

    digest = build_digest(Analytics(db), days=7, tz="UTC", now=NOW)
    fig = build_figure(digest)
    assert tuple(round(v) for v in fig.get_size_inches() * fig.dpi) == (WIDTH, HEIGHT)
    top, middle, bottom, _weeks, rate = fig.axes  # four panels and the acceptance rate's secondary axis
    assert [ax.get_title() for ax in (top, middle, bottom)] == [f"{TITLES[0]} (UTC)", TITLES[1], TITLES[2]]
    assert rate.bbox.bounds == bottom.bbox.bounds  # twinned on the drafts panel
    bars = [c for c in top.containers if isinstance(c, BarContainer)]
    assert len(bars) == 4 and all(len(c) == 7 for c in bars)
    totals = [a.get_text() for a in top.texts]
    per_day = [str(d.conversations) for d in digest.current.days if d.conversations]
    assert totals == per_day  # the day's total on each non-empty bar, no "0" on empty days
    previous = [line for line in top.get_lines() if line.get_linestyle() == "--"]
    assert len(previous) == 1 and previous[0].get_label() == "previous week"
    assert [line.get_linestyle() for line in middle.get_lines()] == ["-", "--"]
    drafts = [c for c in bottom.containers if isinstance(c, BarContainer)]
    assert [c.get_label() for c in drafts] == ["Approved unchanged", "Edited, then sent", "Rejected",
                                               "Sent automatically"]
    assert [a.get_text() for a in bottom.texts] == [str(sum(d.decisions.values())) for d in digest.current.days
                                                    if sum(d.decisions.values())]
    (acceptance,) = rate.get_lines()
    assert acceptance.get_label().startswith("Acceptance rate") and rate.get_ylim()[1] <= 1.05
    labels = [t.get_text() for t in bottom.get_xticklabels()]
    assert labels[0] == "Mon 10 Mar" and labels[-1] == "Sun 16 Mar" and not any("so far" in t for t in labels)


def test_chart_shows_the_acceptance_rate_of_each_of_the_last_8_weeks(db):
    from bot.digest.chart import TITLES, build_figure

    digest = build_digest(Analytics(db), days=7, tz="UTC", now=NOW)
    assert digest.current.weekly_decided == [0] * 6 + [1, 3]  # E approved the week before; A, B, C this week
    weeks = build_figure(digest).axes[3]
    assert weeks.get_title() == TITLES[3]
    labels = [t.get_text() for t in weeks.get_xticklabels()]
    assert len(labels) == 8 and labels[-1] == "10 Mar –\n16 Mar" and labels[-2] == "03 Mar –\n09 Mar"
    (line,) = weeks.get_lines()
    assert list(line.get_ydata()[-2:]) == pytest.approx([1.0, 1 / 3])
    notes = [a.get_text() for a in weeks.texts]
    assert notes == ["no drafts\ndecided"] * 6 + ["100%\n(1)", "33%\n(3)"]


def test_chart_labels_today_so_far_or_leaves_it_out_when_empty(db):
    from bot.digest.chart import build_figure

    def labels(now):
        fig = build_figure(build_digest(Analytics(db), days=7, tz="UTC", now=now))
        return [t.get_text() for t in fig.axes[2].get_xticklabels()]

    busy = labels(datetime(2025, 3, 13, 23, 0, tzinfo=UTC))  # Thursday under way, with conversations
    assert busy[-1] == "Thu 13 Mar\n(so far)" and len(busy) == 7
    quiet = labels(datetime(2025, 3, 14, 12, 0, tzinfo=UTC))  # Friday under way, nothing yet
    assert quiet[-1] == "Thu 13 Mar" and len(quiet) == 6


def test_teaching_figures(tmp_path):
    db = open_db(tmp_path / "teach.db")
    clock = Clock()
    s = Store(db, clock=clock)
    cid, mid = _open(s, clock, "slack", (2025, 3, 11, 9), "How do refunds work?")
    clock.at(2025, 3, 11, 10)
    for question, kind, status in (("How do refunds work?", "article", "draft"), ("Refund time?", "question", "approved"),
                                   ("Gone?", "article", "discarded")):
        s.add_lesson(conversation_id=cid, platform="slack", workspace="", question=question, answer="a",
                     language="en", article_id="refunds" if status != "discarded" else "gone", kind=kind,
                     taught_by="U1", status=status)
    for status, top in (("approved", "refunds"), ("edited", "refunds"), ("approved", "pay-in-4")):
        clock.at(2025, 3, 12, 9)
        did = s.create_draft_job(cid, mid)
        s.complete_draft(did, status=status, text="t", sources=[{"id": top, "title": "x", "score": 0.9}],
                         confidence=0.9, drafter="kb", model=None, latency_ms=5.0)
    digest = build_digest(Analytics(db), days=7, tz="UTC", now=NOW)
    assert digest.current.taught == (2, 1, 2, 1)
    text = to_text(digest)
    assert "2 questions taught, 1 new articles" in text
    assert "2 drafts drawn from taught content, 1 approved unchanged" in text
    assert digest.current.weekly_acceptance[:7] == [None] * 7
    assert digest.current.weekly_acceptance[7] == pytest.approx(2 / 3)


def test_a_gap_an_agent_answered_offers_to_teach_it(db):
    """B's low-confidence draft was edited past recognition (4 of 10 characters): an agent's answer to the export
    question, which D asked again; the gap names B, the latest such conversation, until a lesson is taken from it."""
    (gap,) = build_digest(Analytics(db), days=7, tz="UTC", now=NOW).current.kb_gaps
    assert gap.conversations == [4, 2] and (gap.agent_answer, gap.taught) == (2, None)
    assert "agent answer in conversation #2: `teach 2`" in dict(to_report(build_digest(
        Analytics(db), days=7, tz="UTC", now=NOW)).sections)["Knowledge-base gaps (articles to write)"]

    clock = Clock()
    s = Store(db, clock=clock)
    # F: a question nobody could draft, answered by an agent in the thread; G: the same, its draft edited a little
    f, m = _open(s, clock, "slack", (2025, 3, 14, 9, 0), "Do you ship to Norway?")
    _draft(s, clock, f, m, (2025, 3, 14, 9, 0), (2025, 3, 14, 9, 0, 2), status="failed", text=None, confidence=None)
    _reply(s, clock, f, "agent", "Yes, in 3-5 days.", "slack", (2025, 3, 14, 9, 5), (2025, 3, 14, 9, 5, 1),
           author="alice")
    g, m = _open(s, clock, "discord", (2025, 3, 14, 10, 0), "Can I pay in Bitcoin?")
    d = _draft(s, clock, g, m, (2025, 3, 14, 10, 0), (2025, 3, 14, 10, 0, 2), text="We accept cards only.",
               confidence=0.2)
    clock.at(2025, 3, 14, 10, 1)
    s.decide_draft(d, "edited", "bob", final_text="We accept cards only!", edit_distance=1)
    _reply(s, clock, g, "bot", "We accept cards only!", "discord", (2025, 3, 14, 10, 1), (2025, 3, 14, 10, 1, 1), d)
    s.add_lesson(conversation_id=2, platform="discord", workspace="", question="How do I export invoices?",
                 answer="abcdWXYZij", language="en", article_id="export", kind="article", taught_by="bob",
                 status="draft")

    digest = build_digest(Analytics(db), days=7, tz="UTC", now=NOW)
    gaps = {gap.question: gap for gap in digest.current.kb_gaps}
    export = gaps["Export invoices to CSV please"]
    assert (export.agent_answer, export.taught) == (None, 2)
    assert gaps["Do you ship to Norway?"].agent_answer == f
    assert (gaps["Can I pay in Bitcoin?"].agent_answer, gaps["Can I pay in Bitcoin?"].taught) == (None, None)
    section = dict(to_report(digest).sections)["Knowledge-base gaps (articles to write)"]
    assert f'"Do you ship to Norway?" — agent answer in conversation #{f}: `teach {f}`' in section
    assert '"Export invoices to CSV please" (also: How do I export invoices?) — taught from conversation #2' \
        in section
    assert '"Can I pay in Bitcoin?" — no agent answer yet' in section
    assert '"agent_answer": ' + str(f) in to_json(digest)
