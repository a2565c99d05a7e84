"""The language detector (bot/language.py) on this project's data: how often it names the customer's language,
how long it takes, and the memory it adds once loaded.

English: BANKING77 and CLINC150 test questions (../shared/data); Indonesian: the held-out questions
(tests/fixtures/sample_kb_eval_id.csv) and the sentences of the sample articles' Indonesian answers. Messages
shorter than the detector's letter floor are left out (the caller's fallback decides those). "unsure" means
the detector left it to the fallback. With py3langid installed (`pip install py3langid`), the same figures for
it, restricted to en,id as Tandem used it before.

    python bench/detector.py
"""
from __future__ import annotations

import csv
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.datasets import banking77, clinc150  # noqa: E402
from bot.kb import load_kb  # noqa: E402
from bot import language  # noqa: E402


def rss_mb() -> float:
    return int(re.search(r"VmRSS:\s+(\d+)", Path("/proc/self/status").read_text()).group(1)) / 1024


def samples() -> dict[str, list[str]]:
    english = [q for q, _ in banking77("test")] + [q for q, _ in clinc150("test")]
    indonesian = [r["question"] for r in csv.DictReader(open(ROOT / "tests" / "fixtures" / "sample_kb_eval_id.csv"))]
    for article in load_kb(ROOT / "bot" / "sample_kb"):
        indonesian += re.split(r"(?<=[.?!])\s+", dict(article.translations).get("id", ""))
    enough = lambda q: sum(ch.isalpha() for ch in q) >= language.MIN_LETTERS  # noqa: E731
    return {"en": [q for q in english if enough(q)], "id": [q for q in indonesian if enough(q)]}


def py3langid_detector():
    try:
        from py3langid.langid import LanguageIdentifier, MODEL_FILE  # noqa: F401
    except ImportError:
        return None
    import gc

    from py3langid.langid import _load_identifier

    full = _load_identifier(norm_probs=True, langs=["en", "id"])  # kept only the restricted tables, as Tandem did
    identifier = LanguageIdentifier(full.nb_ptc, full.nb_pc, full.nb_classes, full.tk_nextmove, full.tk_output,
                                    norm_probs=True, tk_row=full.tk_row)
    del full
    gc.collect()

    def detect(text: str) -> str | None:
        lang, prob = identifier.classify(text)
        return lang if prob >= 0.9 else None

    return detect


def measure(name: str, detect, data: dict[str, list[str]]) -> None:
    for want, texts in data.items():
        started = time.perf_counter()
        found = [detect(t) for t in texts]
        micros = (time.perf_counter() - started) / len(texts) * 1e6
        right = sum(f == want for f in found)
        wrong = sum(f not in (want, None) for f in found)
        print(f"| {name} | {want} | {len(texts)} | {right / len(texts):.2%} | {wrong} | {len(texts) - right - wrong} "
              f"| {micros:.0f} |")


def main() -> None:
    data = samples()
    print("| detector | language | messages | named right | named wrong | unsure | µs per message |")
    print("|---|---|---|---|---|---|---|")
    before = rss_mb()
    language.detect("bagaimana cara membatalkan pesanan saya")
    cld_mb = rss_mb() - before

    def ours(text: str) -> str | None:
        lang, confidence = language.detect(text, fallback="??")
        return None if confidence == 0.0 or lang == "??" else lang

    measure("pycld2 (Tandem)", ours, data)
    before = rss_mb()
    other = py3langid_detector()
    other_mb = rss_mb() - before
    if other is not None:
        measure("py3langid", other, data)
    print(f"\nmemory added once loaded: pycld2 {cld_mb:.1f} MB" +
          (f", py3langid {other_mb:.1f} MB" if other is not None else ""))


if __name__ == "__main__":
    main()
