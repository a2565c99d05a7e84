"""The digest's PNG, as a lead reads it: three panels over the period's days and one over the last 8 weeks.

1. conversations per day stacked by outcome, the day's total on each bar, the period before as a dashed line;
2. median first-response time per day, the period before dashed;
3. drafts per day by decision (approved unchanged, edited, rejected, sent automatically), totals on the bars,
   and the acceptance rate (approved unchanged / decided by a person) as a line on a secondary axis;
4. the acceptance rate per week over the last 8 weeks up to the period's end, each point labelled with its
   rate and how many drafts a person decided that week: whether teaching makes the drafts better shows here.

A day still under way is labelled "so far", and left out when nothing has happened on it yet, so the chart
never ends in an empty column. Drawn with matplotlib's Agg backend (no display needed) at a fixed size,
WIDTH x HEIGHT pixels, so it looks the same in Slack and Discord. `build_figure` returns the matplotlib
Figure (tests inspect its axes); `render_chart` writes it as PNG.
"""
from __future__ import annotations

import logging
from datetime import time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import matplotlib

matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402  (after choosing the backend)
from matplotlib.ticker import MaxNLocator, PercentFormatter  # noqa: E402

from bot.digest.figures import DECISION_LABELS, DECISIONS, OUTCOME_LABELS, OUTCOMES, Day, Digest  # noqa: E402

log = logging.getLogger(__name__)
WIDTH, HEIGHT, DPI = 1200, 1400, 100
COLOURS = {"resolved_bot": "#2e7d32", "resolved_agent": "#1565c0", "with_agent": "#ef6c00", "open": "#9e9e9e"}
DECISION_COLOURS = {"approved": "#2e7d32", "edited": "#f9a825", "rejected": "#c62828", "auto_sent": "#00838f"}
PREVIOUS = {"color": "#424242", "linestyle": "--", "linewidth": 1.2, "alpha": 0.6}
TITLES = ("Conversations per day by outcome", "Median first-response time per day", "Drafts per day by decision",
          "Acceptance rate per week, last 8 weeks")


def chart_days(digest: Digest) -> tuple[list[Day], list[Day | None], bool]:
    """The current period's days to draw, the previous period's day at each position (None when it has
    none), and whether the last day drawn is still under way ("so far")."""
    days, before = list(digest.current.days), list(digest.previous.days)
    end = digest.current.end.astimezone(ZoneInfo(digest.timezone))
    partial = bool(days) and end.timetz().replace(tzinfo=None) != time(0)
    if partial and not days[-1].conversations and not sum(days[-1].decisions.values()):
        days, partial = days[:-1], False  # today has nothing yet: leave it out rather than an empty column
    return days, [before[i] if i < len(before) else None for i in range(len(days))], partial


def _stack(ax, x, days: list[Day], keys, values, colours, labels) -> None:
    base = [0] * len(days)
    for key in keys:
        heights = [values(d).get(key, 0) for d in days]
        ax.bar(x, heights, bottom=base, label=labels[key], color=colours[key], width=0.7)
        base = [b + h for b, h in zip(base, heights)]
    for xi, total in zip(x, base):
        if total:
            ax.annotate(f"{total}", (xi, total), xytext=(0, 2), textcoords="offset points", ha="center",
                        va="bottom", fontsize="small", fontweight="bold")
    ax.set_ylim(0, max(base + [1]) * 1.18)  # room for the totals
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(axis="y", alpha=0.3)


def build_figure(digest: Digest) -> Figure:
    """The chart as a matplotlib Figure of WIDTH x HEIGHT pixels, three panels sharing the days' axis."""
    days, before, partial = chart_days(digest)
    x = list(range(len(days)))
    labels = [d.date.strftime("%a %d %b") for d in days]
    if partial:
        labels[-1] += "\n(so far)"
    n = digest.days
    previous_label = f"previous {n} days" if n != 7 else "previous week"

    fig = Figure(figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI)
    grid = fig.add_gridspec(4, 1, height_ratios=[3, 2, 3, 2.2])
    top = fig.add_subplot(grid[0])
    middle, bottom = fig.add_subplot(grid[1], sharex=top), fig.add_subplot(grid[2], sharex=top)
    weekly = fig.add_subplot(grid[3])
    for ax in (top, middle):
        ax.tick_params(labelbottom=False)

    _stack(top, x, days, OUTCOMES, lambda d: d.outcomes, COLOURS, OUTCOME_LABELS)
    top.plot(x, [b.conversations if b else float("nan") for b in before], marker=".", label=previous_label,
             **PREVIOUS)
    top.set_ylabel("conversations")
    top.set_title(f"{TITLES[0]} ({digest.timezone})")
    top.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")

    def minutes(d: Day | None) -> float:
        return d.first_response_median / 60 if d and d.first_response_median is not None else float("nan")

    middle.plot(x, [minutes(d) for d in days], marker="o", color="#6a1b9a", label="this period")
    middle.plot(x, [minutes(b) for b in before], marker=".", label=previous_label, **PREVIOUS)
    middle.set_ylabel("minutes")
    middle.set_title(TITLES[1])
    middle.set_ylim(bottom=0)
    middle.grid(alpha=0.3)
    middle.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")

    _stack(bottom, x, days, DECISIONS, lambda d: d.decisions, DECISION_COLOURS, DECISION_LABELS)
    bottom.set_ylabel("drafts")
    bottom.set_title(TITLES[2])
    rate = bottom.twinx()
    rate.plot(x, [d.acceptance if d.acceptance is not None else float("nan") for d in days], marker="o",
              color="#000000", linewidth=1.8, label="Acceptance rate\n(approved unchanged\n/ decided by a person)")
    rate.set_ylim(0, 1.05)
    rate.yaxis.set_major_formatter(PercentFormatter(1.0))
    rate.set_ylabel("acceptance")
    bars, names = bottom.get_legend_handles_labels()
    line, line_name = rate.get_legend_handles_labels()
    bottom.legend(bars + line, names + line_name, loc="upper left", bbox_to_anchor=(1.08, 1), fontsize="small")

    bottom.set_xticks(x, labels, rotation=30 if len(days) > 10 else 0, fontsize="small")
    if len(days) > 14:  # keep labels readable on long periods
        for i, label in enumerate(bottom.get_xticklabels()):
            label.set_visible(i % max(1, len(days) // 14) == 0 or i == len(days) - 1)
    _weeks(weekly, digest)
    fig.subplots_adjust(left=0.06, right=0.76, top=0.965, bottom=0.05, hspace=0.38)
    return fig


def week_labels(digest: Digest) -> list[str]:
    """Each of the 8 weeks up to the period's end as its first and last local day, oldest first."""
    tz, end = ZoneInfo(digest.timezone), digest.current.end
    weeks = len(digest.current.weekly_acceptance)
    labels = []
    for w in range(weeks - 1, -1, -1):
        first = (end - timedelta(weeks=w + 1)).astimezone(tz)
        last = (end - timedelta(weeks=w) - timedelta(microseconds=1)).astimezone(tz)
        labels.append(f"{first:%d %b} –\n{last:%d %b}")
    return labels


def _weeks(ax, digest: Digest) -> None:
    """Acceptance per week: a line through the weeks that had decided drafts, each point with its rate and count;
    a week nobody decided a draft in says so instead of a point."""
    rates, decided = digest.current.weekly_acceptance, digest.current.weekly_decided
    x = list(range(len(rates)))
    ax.plot(x, [r if r is not None else float("nan") for r in rates], marker="o", color="#000000", linewidth=1.8,
            label="Acceptance rate\n(approved unchanged\n/ decided by a person)")
    for xi, rate, n in zip(x, rates, decided):
        if rate is None:
            ax.annotate("no drafts\ndecided", (xi, 0.5), ha="center", va="center", fontsize="small", color="#757575")
        else:
            ax.annotate(f"{rate * 100:.0f}%\n({n})", (xi, rate), xytext=(0, 6), textcoords="offset points",
                        ha="center", va="bottom", fontsize="small")
    ax.set_ylim(0, 1.3)  # room above 100% for the labels
    ax.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylabel("acceptance")
    ax.set_title(TITLES[3])
    ax.set_xticks(x, week_labels(digest), fontsize="small")
    ax.set_xlim(-0.5, len(x) - 0.5)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small",
              title="(n) drafts decided\nby a person that week", title_fontsize="small")


def render_chart(digest: Digest, path: str | Path) -> Path:
    """Write the chart to `path` (folders created) and return it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    build_figure(digest).savefig(path, format="png", dpi=DPI)
    log.info("digest chart written to %s", path)
    return path
