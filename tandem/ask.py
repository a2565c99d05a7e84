"""`tandem ask`: one question through the configured drafter, and what the core would do with the answer."""
from __future__ import annotations

from bot import handoff as signals
from bot.config import Settings
from bot.rules import judge
from bot.safety import policy_for
from bot.drafting.base import DrafterError, DraftRequest
from tandem.runtime import build_drafter, unwritten_warning


async def ask_once(settings: Settings, question: str) -> dict:
    drafter = build_drafter(settings)
    report = {"question": question, "drafter": drafter.name, "answer": "", "confidence": 0.0, "sources": [],
              "decision": "", "reason": None, "held": [],
              "warnings": [w for w in [unwritten_warning(getattr(drafter, "kb_articles", ()))] if w]}
    if signals.asks_for_human(question):
        report.update(decision="handoff", reason="asked_for_human")
        return report
    try:
        result = await drafter.draft(DraftRequest(0, question, language=signals.detect_language(question)))
    except DrafterError as exc:
        report.update(decision="handoff", reason="drafter_error", error=str(exc))
        return report
    decision, reason, held = judge(result, settings.tandem_mode, settings.tandem_handoff_threshold,
                                   settings.tandem_auto_threshold, question=question,
                                   policy=policy_for(settings.link_domains, getattr(drafter, "kb_articles", ())))
    report.update(
        answer=result.text, confidence=result.confidence, drafter=result.drafter or drafter.name,
        model=result.model, sources=[s.__dict__ for s in result.sources], decision=decision,
        reason=reason.value if reason else None, held=list(held),
    )
    return report
