"""The LLM drafter: any OpenAI-compatible endpoint (OpenAI, Ollama, vLLM, llama.cpp server) through the
official `openai` client, grounded on the knowledge base's best articles.

The model must answer with a small JSON object (reply, confidence, needs_human, reason). A timeout, an
HTTP error or output that is not that object raises `DrafterError`, which the core turns into a handoff
with the reason, so a failing model never loses a customer's message.
"""
from __future__ import annotations

import json
import logging
import re

import openai

from bot.drafting.base import DrafterError, DraftRequest, DraftResult
from bot.kb import Article

log = logging.getLogger(__name__)

SYSTEM_PROMPT = """You draft replies for a customer-support team. A human agent may review your draft.
Answer ONLY from the knowledge-base articles given below. If they do not answer the question, say so and
set needs_human to true. Reply in the customer's language ({language_hint}). Be brief, warm and concrete.
Never invent policies, amounts or dates. If the customer asks for a person, set needs_human to true.
Respond with ONLY a JSON object: {{"reply": string, "confidence": number between 0 and 1,
"needs_human": boolean, "reason": string or null}}.

Knowledge-base articles:
{articles}"""

_LANG = {"en": "English", "id": "Indonesian (Bahasa Indonesia)"}
_JSON = re.compile(r"\{.*\}", re.DOTALL)


def parse_reply(content: str | None) -> dict:
    """Pull the JSON object out of a model answer; raise DrafterError when it is not usable."""
    if not content or not content.strip():
        raise DrafterError("malformed model output: empty answer")
    match = _JSON.search(content)
    try:
        data = json.loads(match.group(0) if match else content)
    except (json.JSONDecodeError, AttributeError):
        raise DrafterError(f"malformed model output: not JSON ({content[:80]!r})") from None
    if not isinstance(data, dict) or not isinstance(data.get("reply"), str):
        raise DrafterError("malformed model output: no 'reply' string")
    try:
        confidence = float(data.get("confidence", 0.0))
    except (TypeError, ValueError):
        raise DrafterError("malformed model output: 'confidence' is not a number") from None
    if not 0.0 <= confidence <= 1.0:
        raise DrafterError(f"malformed model output: confidence {confidence} outside 0..1")
    return {"reply": data["reply"].strip(), "confidence": confidence,
            "needs_human": bool(data.get("needs_human", False)), "reason": data.get("reason")}


class LLMDrafter:
    name = "llm"

    def __init__(self, retriever, articles: list[Article], *, api_key: str | None, base_url: str | None,
                 model: str, timeout: float):
        self.retriever = retriever  # the KB drafter: finds the articles to ground on
        self.articles = {a.id: a for a in articles}
        self.model = model
        self.client = openai.AsyncOpenAI(api_key=api_key or "not-needed", base_url=base_url, timeout=timeout,
                                         max_retries=0)

    async def draft(self, request: DraftRequest) -> DraftResult:
        grounding = self.retriever.answer(request.question)
        top = [self.articles[s.id] for s in grounding.sources if s.id in self.articles]
        articles = "\n\n".join(f"[{a.id}] {a.title}\n{a.answer}" for a in top) or "(no relevant article)"
        messages = [{"role": "system", "content": SYSTEM_PROMPT.format(
            language_hint=_LANG.get(request.language, "the customer's language"), articles=articles)}]
        for kind, text in request.history[-8:]:
            messages.append({"role": "user" if kind == "customer" else "assistant", "content": text})
        messages.append({"role": "user", "content": request.question})
        try:
            response = await self.client.chat.completions.create(
                model=self.model, messages=messages, temperature=0.2, response_format={"type": "json_object"},
            )
        except openai.APITimeoutError:
            raise DrafterError("the model timed out") from None
        except openai.APIStatusError as exc:
            raise DrafterError(f"the model endpoint answered HTTP {exc.status_code}") from None
        except openai.APIError as exc:
            raise DrafterError(f"the model endpoint failed: {type(exc).__name__}") from None
        if not response.choices:
            raise DrafterError("malformed model output: no choices")
        parsed = parse_reply(response.choices[0].message.content)
        sensitive = grounding.needs_human
        return DraftResult(
            text=parsed["reply"],
            confidence=parsed["confidence"],
            sources=grounding.sources,
            needs_human=parsed["needs_human"] or sensitive,
            reason=grounding.reason if sensitive else ("low_confidence" if parsed["needs_human"] else None),
            drafter=self.name,
            model=response.model or self.model,
            details={"model_reason": parsed["reason"]},
        )
