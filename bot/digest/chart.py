"""The digest's PNG: conversations per day stacked by outcome, and median first-response time per day.

Drawn with matplotlib's Agg backend (no display needed) at a fixed size, WIDTH x HEIGHT pixels, so it
looks the same in Slack and Discord and tests can check the image header.
"""
from __future__ import annotations

import logging
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402  (after choosing the backend)

from bot.digest.figures import OUTCOME_LABELS, OUTCOMES, Digest  # noqa: E402

log = logging.getLogger(__name__)
WIDTH, HEIGHT, DPI = 1200, 800, 100
COLOURS = {"resolved_bot": "#2e7d32", "resolved_agent": "#1565c0", "with_agent": "#ef6c00", "open": "#9e9e9e"}


def render_chart(digest: Digest, path: str | Path) -> Path:
    """Write the chart to `path` (folders created) and return it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    days = digest.current.days
    labels = [d.date.strftime("%a %d %b") for d in days]
    x = list(range(len(days)))

    fig = Figure(figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI)
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    base = [0] * len(days)
    for outcome in OUTCOMES:
        values = [d.outcomes.get(outcome, 0) for d in days]
        top.bar(x, values, bottom=base, label=OUTCOME_LABELS[outcome], color=COLOURS[outcome], width=0.7)
        base = [b + v for b, v in zip(base, values)]
    top.set_ylabel("conversations")
    top.set_title(f"Conversations per day by outcome ({digest.timezone})")
    top.legend(loc="upper left", fontsize="small", ncols=2)
    top.grid(axis="y", alpha=0.3)

    minutes = [d.first_response_median / 60 if d.first_response_median is not None else float("nan") for d in days]
    bottom.plot(x, minutes, marker="o", color="#6a1b9a")
    bottom.set_ylabel("minutes")
    bottom.set_title("Median first-response time per day")
    bottom.set_ylim(bottom=0)
    bottom.grid(alpha=0.3)
    bottom.set_xticks(x, labels, rotation=30 if len(days) > 10 else 0, fontsize="small")
    if len(days) > 14:  # keep labels readable on long periods
        for i, label in enumerate(bottom.get_xticklabels()):
            label.set_visible(i % max(1, len(days) // 14) == 0)
    fig.subplots_adjust(left=0.07, right=0.98, top=0.95, bottom=0.1, hspace=0.25)
    fig.savefig(path, format="png", dpi=DPI)
    log.info("digest chart written to %s", path)
    return path
