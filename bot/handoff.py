"""Signals that a person should take over: an explicit request for one, and frustration.

Reaching a person must always be one message away, so the request detector errs on the side of
handing off. English and Indonesian are covered; phrases are plain regular expressions so a team can
read and extend them.
"""
from __future__ import annotations

import re

from rapidfuzz import fuzz

_WORD = r"(?:human|person|people|agent|representative|rep|operator|someone|somebody|staff|support team|customer service|customer support|cs|manager|supervisor)"
_ID_WORD = r"(?:manusia|orang|cs|admin|petugas|agen|operator|staf|karyawan|customer service)"

_ASK_EN = [
    rf"\b(?:talk|speak|chat|connect|transfer|escalate|put)\b.{{0,30}}\b(?:to|with|me to)\b.{{0,20}}\b{_WORD}\b",
    r"\b(?:real|live|actual)\s+(?:human|person|agent|people)\b",
    rf"\b(?:want|need|get|give)\b.{{0,20}}\b(?:a|an|the|some)?\s*(?:human|real person|live agent|live person|representative|operator|human being)\b",
    r"\bhuman\s+(?:please|pls|plz|now)\b",
    r"\b(?:is there|are there|any)\s+(?:a|an)?\s*(?:human|person|real person|people)\b",
    r"\b(?:not|no more)\s+(?:a|the)?\s*(?:bot|robot|machine|ai)\b",
    r"\bstop\s+(?:the\s+)?(?:bot|robot)\b",
    r"\bcall\s+me\b",
]
_ASK_ID = [
    rf"\b(?:bicara|ngobrol|hubungi|sambungkan|hubungkan|minta|mau|ingin|pengen|tolong)\b.{{0,30}}\b{_ID_WORD}\b",
    r"\b(?:bukan|jangan)\s+(?:bot|robot|mesin)\b",
    r"\b(?:orang|manusia)\s+(?:asli|beneran|sungguhan)\b",
    r"^\W*(?:cs|admin|agen|petugas|manusia|orang|human|agent|operator)\W+(?:dong|please|pls|plz|aja|saja|ya|now|segera)\W*$",
]
_ALONE = {
    "human", "humans", "agent", "person", "operator", "representative", "help", "manusia", "orang", "cs",
    "admin", "petugas", "agen", "human please", "agent please", "real person", "live agent",
}
_ASK = re.compile("|".join(f"(?:{p})" for p in (*_ASK_EN, *_ASK_ID)), re.IGNORECASE)

_ANGER = re.compile(
    r"\b(?:useless|ridiculous|terrible|awful|worst|pathetic|scam|fraudsters?|wtf|stupid|idiot|furious|angry|"
    r"unacceptable|disgusting|horrible|fed up|sick of|annoyed|waste of time|"
    r"bodoh|goblok|kecewa|parah|marah|payah|penipu|tolol|jelek|lambat banget|buang waktu)\b",
    re.IGNORECASE,
)
_ID_HINTS = re.compile(
    r"\b(?:saya|aku|tidak|tidak|gak|nggak|bagaimana|gimana|apa|kenapa|bisa|tolong|mau|sudah|belum|dan|yang|"
    r"untuk|dengan|ini|itu|kapan|berapa|bayar|pembayaran|cicilan|pesanan|uang|kartu|akun|dong|ya|kok)\b",
    re.IGNORECASE,
)


def _clean(text: str) -> str:
    return re.sub(r"[^\w\s]", " ", text.lower()).strip()


def asks_for_human(text: str) -> bool:
    """True when the customer asks to reach a person, in English or Indonesian."""
    cleaned = " ".join(_clean(text).split())
    if cleaned in _ALONE:
        return True
    return bool(_ASK.search(text))


def frustration(text: str, previous: list[str]) -> str | None:
    """A short description of frustration in `text`, given the customer's earlier messages, or None."""
    if _ANGER.search(text):
        return "angry words"
    letters = [c for c in text if c.isalpha()]
    if len(letters) >= 12 and sum(c.isupper() for c in letters) / len(letters) > 0.8:
        return "shouting"
    if text.count("!") >= 3 or text.count("?") >= 4:
        return "repeated punctuation"
    cleaned = _clean(text)
    if len(cleaned) >= 8:
        for earlier in previous[:3]:
            if fuzz.ratio(cleaned, _clean(earlier)) >= 88:
                return "repeated question"
    return None


def detect_language(text: str) -> str:
    """'id' for Indonesian, else 'en'. Cheap on purpose: it only picks the language of our own notices."""
    words = _clean(text).split()
    if not words:
        return "en"
    hits = len(_ID_HINTS.findall(text))
    return "id" if hits >= max(1, len(words) // 5) else "en"
