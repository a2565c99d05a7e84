"""Signals that a person should take over: an explicit request for one, and frustration.

Reaching a person must always be one message away, so the request detector errs on the side of
handing off. English and Indonesian are covered; phrases are plain regular expressions so a team can
read and extend them.
"""
from __future__ import annotations

import re

from rapidfuzz import fuzz

_WORD = (r"(?:human|humans|person|people|agent|agents|representative|rep|operator|someone|somebody|staff|"
         r"support team|customer service|customer support|cs|manager|supervisor|employee|worker|colleague|advisor|"
         r"adviser|consultant|human being)")
_ID_WORD = r"(?:manusia|orang|cs|admin|petugas|agen|operator|staf|staff|karyawan|pegawai|customer service|live agent)"

_ASK_EN = [
    # "talk to a human", "speaking with one of your agents", "put me through with a bank worker"
    rf"\b(?:talk\w*|speak\w*|chat\w*|connect\w*|escalat\w*|reach\w*|transfer me|put me|get me|pass me|"
    rf"hand me|forward me|through)\b.{{0,30}}\b(?:to|with|me to|through)\b.{{0,25}}\b{_WORD}\b",
    r"\b(?:reach|contact|call|ring|ask)\b.{0,25}\b(?:a|an|your|one of your|the|other|another)\b.{0,15}\b"
    r"(?:human|agent|agents|representative|operator|person|employee|worker|staff)\b",
    r"\b(?:real|live|actual|non.?robotic|flesh and blood)\s+(?:human|person|agent|agents|people|operator|representative)\b",
    r"\b(?:want|need|get|give|prefer|rather|request)\b.{0,25}\b(?:a|an|the|some)?\s*(?:human|real person|live agent|"
    r"live person|representative|operator|human being)s?\b",
    r"\b(?:can|could|may|let|need|want)\s+(?:i\s+\w+\s+)?(?:someone|somebody)\s+else\b(?!.{0,6}\bname)",
    r"\b(?:someone|somebody)\s+else\s+on\s+the\s+(?:line|phone)\b",
    r"\bhuman\s+(?:please|pls|plz|now)\b",
    r"\b(?:is there|are there|any)\s+(?:a|an)?\s*(?:human|person|real person|people)\b",
    r"\b(?:not|no more|stop talking to|done with|enough of|with a|to a|hate)\s+(?:a|the|this|these|you)?\s*"
    r"(?:bots?|robots?|machines?|ai|virtual agents?|automated \w+)\b",
    r"\b(?:this|the|you|stupid|useless)\s+(?:bot|robot|machine|chatbot)\b.{0,20}\b(?:stupid|useless|dumb|"
    r"not (?:helping|working)|doesn.?t (?:help|work)|can.?t help)\b",
    r"\b(?:this|the)\s+(?:conversation|chat)\b.{0,15}\b(?:not working|isn.?t working|doesn.?t work|useless|"
    r"going nowhere|pointless)\b",
    r"\b(?:don.?t|do not|dont)\s+want\s+to\s+(?:talk|speak|chat)\s+(?:to|with)\s+(?:you|a bot|the bot|a machine)\b",
    r"\b(?:really|so|very|extremely)\s+frustrat\w*\b",
    r"\b(?:get|find)\s+(?:someone|somebody)\s+to\s+help\b",
    r"\bstop\s+(?:the\s+)?(?:bot|robot)\b",
    # a call back, not a name ("call me back", "call me at 5", "can someone call me"; not "call me Bob")
    r"\bcall\s+me\s+(?:back|asap|now|today|tomorrow|later|on|at|when|please|as soon|right away|instead)\b",
    r"^\W*(?:(?:please|pls|can|could|would|will)\s+)*(?:(?:you|someone|somebody|anyone)\s+)?(?:please\s+)?call\s+me\W*$",
    r"\b(?:someone|somebody|anyone|agent|person|representative)\b.{0,20}\bcall\s+me\b",
]
_ASK_ID = [
    rf"\b(?:bicara|berbicara|ngobrol|ngomong|hubungi|menghubungi|sambungkan|hubungkan|minta|mau|ingin|pengen|"
    rf"tolong|panggil|panggilkan)\b.{{0,30}}\b{_ID_WORD}\b",
    r"\b(?:bukan|jangan|tanpa|selain)\s+(?:sama\s+|dengan\s+)?(?:bot|robot|mesin|chatbot)\b",
    r"\b(?:orang|manusia|petugas|agen)\s+(?:asli|beneran|sungguhan|betulan|nyata)\b",
    r"\b(?:males|malas|capek|bosan)\s+(?:sama|dengan|ngomong sama)\s+(?:bot|robot|mesin)\b",
    r"^\W*(?:cs|admin|agen|petugas|manusia|orang|human|agent|operator)\W+(?:dong|please|pls|plz|aja|saja|ya|now|segera)\W*$",
]
_ALONE = {
    "human", "humans", "agent", "person", "operator", "representative", "help", "manusia", "orang", "cs",
    "admin", "petugas", "agen", "human please", "agent please", "real person", "live agent", "customer service",
    "representative please", "operator please", "talk to human", "speak to human",
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


_LOWER = re.compile(r"[^a-z]")  # what is not an ASCII lowercase letter: a cheap first look for shouting


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
    if len(text) >= 12 and len(_LOWER.sub("", text)) * 5 < len(text):  # else 20% of its letters are lowercase at least
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
