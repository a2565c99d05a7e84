"""Which language a customer writes in, offline, so the KB drafter can answer in it.

py3langid (numpy only, no network) restricted to TANDEM_LANGUAGES (default `en,id`). Short messages are
unreliable, so below a confidence floor the caller's fallback (the conversation's previous language, else the
KB's default) wins.
"""

from __future__ import annotations

import os
from functools import lru_cache

MIN_CONFIDENCE = 0.9  # py3langid's normalised probability; below it the message is too short to tell
MIN_LETTERS = 12


def configured_languages() -> tuple[str, ...]:
    raw = os.environ.get("TANDEM_LANGUAGES", "en,id")
    langs = tuple(dict.fromkeys(p.strip().lower() for p in raw.split(",") if p.strip()))
    return langs or ("en",)


@lru_cache(maxsize=4)
def _identifier(langs: tuple[str, ...]):
    """py3langid restricted to `langs`, holding only their columns: a restricted identifier still keeps the
    full 142-language table (28 MB) to allow a reset we never do, so it is rebuilt from the restricted one."""
    from py3langid.langid import LanguageIdentifier, _load_identifier

    full = _load_identifier(norm_probs=True, langs=list(langs))
    return LanguageIdentifier(full.nb_ptc, full.nb_pc, full.nb_classes, full.tk_nextmove, full.tk_output,
                              norm_probs=True, tk_row=full.tk_row)


def detect(text: str, fallback: str | None = None) -> tuple[str, float]:
    """(language, confidence); the fallback (or the first configured language) when the text is too short."""
    langs = configured_languages()
    default = fallback if fallback in langs else langs[0]
    if len(langs) == 1:
        return langs[0], 1.0
    if sum(ch.isalpha() for ch in text) < MIN_LETTERS:
        return default, 0.0
    lang, prob = _identifier(langs).classify(text)
    if float(prob) < MIN_CONFIDENCE:
        return default, float(prob)
    return lang, float(prob)
