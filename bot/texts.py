"""Everything Tandem says to customers on its own behalf, in English and Indonesian.

Kept in one place so the tone stays honest and consistent: say what happens next, never pretend a bot
is a person, and always leave the door to a human open. The text helpers every adapter shares (clean,
clip, split) live here too, so each platform cuts and cleans text the same way.
"""
from __future__ import annotations

import json
import re
from typing import Any

_TEXTS = {
    "en": {
        "handoff.asked_for_human": "Of course. I've asked a person from our team to take over this conversation.",
        "handoff.frustration": "I'm sorry this has been frustrating. A person from our team is taking over now.",
        "handoff.default": "Thanks for your message. A person from our team will answer you here.",
        "next.open": "Someone usually replies within about {minutes} minutes.",
        "next.closed": "Our team is available {hours}; you'll get an answer here as soon as they're back.",
        "automated": "_Automated answer. Reply *human* to reach a person._",
        "takeover": "{agent} from our team has joined the conversation.",
        "handback": "Our assistant will help you from here. Reply *human* at any time to reach a person.",
        "resolved": (
            "This conversation is now resolved. How did we do? Reply with a number from 1 (poor) to 5 (great)."
        ),
        "rating.how": "To rate this conversation, reply with just one number from 1 (poor) to 5 (great), for example 4.",
        "rating.thanks": "Thank you for rating us {rating}/5. Write again any time if you need more help.",
        "reopened.human": "Welcome back. {agent} will pick this up again here.",
        "empty": "Your message arrived empty. What can we help you with?",
    },
    "id": {
        "handoff.asked_for_human": "Tentu. Saya sudah meminta seseorang dari tim kami untuk mengambil alih percakapan ini.",
        "handoff.frustration": "Mohon maaf atas ketidaknyamanannya. Seseorang dari tim kami akan mengambil alih sekarang.",
        "handoff.default": "Terima kasih atas pesan Anda. Seseorang dari tim kami akan menjawab di sini.",
        "next.open": "Biasanya kami membalas dalam sekitar {minutes} menit.",
        "next.closed": "Tim kami tersedia {hours}; Anda akan mendapat jawaban di sini begitu mereka kembali.",
        "automated": "_Jawaban otomatis. Balas *manusia* untuk bicara dengan orang._",
        "takeover": "{agent} dari tim kami telah bergabung dalam percakapan.",
        "handback": "Asisten kami akan membantu dari sini. Balas *manusia* kapan saja untuk bicara dengan orang.",
        "resolved": (
            "Percakapan ini sudah selesai. Bagaimana layanan kami? Balas dengan angka 1 (buruk) sampai 5 (sangat baik)."
        ),
        "rating.how": "Untuk menilai percakapan ini, balas dengan satu angka saja dari 1 (buruk) sampai 5 (sangat baik), misalnya 4.",
        "rating.thanks": "Terima kasih atas nilai {rating}/5. Silakan menulis lagi kapan saja jika butuh bantuan.",
        "reopened.human": "Selamat datang kembali. {agent} akan melanjutkan percakapan ini.",
        "empty": "Pesan Anda kosong. Ada yang bisa kami bantu?",
    },
}


def say(key: str, language: str = "en", **values) -> str:
    table = _TEXTS.get(language, _TEXTS["en"])
    return table.get(key, _TEXTS["en"][key]).format(**values)


def handoff_notice(reason: str, language: str, *, open_now: bool, minutes: int, hours: str) -> str:
    key = f"handoff.{reason}" if reason in ("asked_for_human", "frustration") else "handoff.default"
    nxt = say("next.open", language, minutes=minutes) if open_now else say("next.closed", language, hours=hours)
    return f"{say(key, language)} {nxt}"


def automated(text: str, language: str) -> str:
    return f"{text}\n\n{say('automated', language)}"


def duration(seconds: float | None) -> str:
    """A span for people: 45s, 8m 05s, 3h 02m, 2d 4h."""
    if seconds is None:
        return "n/a"
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86400}d {s % 86400 // 3600}h"


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def as_text(value: Any) -> str:
    """A payload field that should be text, as text: a number is its digits, an object its JSON, None is ''.

    Platforms (and forgers) sometimes deliver a number or an object where a string belongs; the customer's
    message must still be recorded, so nothing is dropped, only spelled as text."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def storable(value: Any) -> Any:
    """`value` with every string made encodable as UTF-8 (a lone surrogate such as JSON "\\ud83d" becomes U+FFFD),
    recursively through dicts and lists, so SQLite and the platforms' APIs can take it."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
            return value
        except UnicodeEncodeError:
            return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, dict):
        return {key: storable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [storable(item) for item in value]
    return value


def clean_text(text: str) -> str:
    """Drop control characters (keep newlines and tabs) and surrounding blanks; keep emoji and all scripts."""
    return _CONTROL.sub("", text or "").strip()


def clip(text: str | None, limit: int) -> str:
    """At most `limit` characters, with an ellipsis where it was cut."""
    text = text or ""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def split_text(text: str, limit: int) -> list[str]:
    """Cut `text` into pieces of at most `limit` characters, at a paragraph, else a line, else a word break.

    Never returns an empty piece: both platforms refuse an empty message, so an empty text is a zero-width space.
    """
    rest = text.strip() or "\u200b"
    parts: list[str] = []
    while len(rest) > limit:
        window = rest[:limit]
        for sep in ("\n\n", "\n", " "):
            cut = window.rfind(sep)
            if cut >= limit // 2:
                break
        else:
            cut = limit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    parts.append(rest)
    return [p for p in parts if p]
