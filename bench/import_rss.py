"""What `tandem run` costs in memory before it does anything: the peak RSS of a process that imports the
modules it loads with Slack and Discord configured, and which heavy libraries came with them.

    python bench/import_rss.py
"""
from __future__ import annotations

import resource
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import adapters.discord.adapter  # noqa: E402,F401
import adapters.slack.adapter  # noqa: E402,F401
import bot.digest.schedule  # noqa: E402,F401
import tandem.cli  # noqa: E402,F401
import tandem.runtime  # noqa: E402,F401
from bot.digest.publish import digest_settings  # noqa: E402,F401

HEAVY = ("matplotlib", "numpy", "scipy", "sklearn", "onnx", "onnxruntime")

print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB; heavy modules loaded: "
      f"{', '.join(m for m in HEAVY if m in sys.modules) or 'none'}")
