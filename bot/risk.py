"""Reasons a draft must not go out on its own, however sure the model says it is.

A model's confidence is the model's word, and a model can be talked into anything by the text it is given. So
before an automatic send, `bot.rules.judge` asks two questions here that do not depend on the model:

* does the customer's message look like an attempt to steer the model (prompt injection, or social
  engineering such as "your manager already approved this")? `injection` names the first sign found;
* does the draft promise something (an amount, an approval, a refund, a guarantee, an account change) that
  none of the articles it rests on says? `commitments` lists those promises.

Either one sends the draft to a person's review instead. English and Indonesian; the phrases are plain
regular expressions so a team can read and extend them.
"""
from __future__ import annotations

import re

_INJECTION = [
    # instructions aimed at the model
    r"\b(?:ignore|disregard|forget|skip|override|bypass)\b.{0,30}\b(?:instruction|instructions|prompt|prompts|rules|"
    r"guidelines|directions|policy|policies|context|messages?)\b",
    r"\b(?:system|developer|hidden|original)\s+(?:prompt|message|instructions?|mode)\b",
    r"\bnew\s+(?:instructions?|rules|task|role)\b",
    r"\b(?:you are|you're|you will be|from now on you)\s+(?:now\s+)?(?:a|an|my|the)?\s*\w*\s*(?:bot|assistant|ai|model|"
    r"agent|gpt|dan)\b",
    r"\b(?:jailbreak|do anything now|dan mode|god mode|admin mode|debug mode|maintenance mode)\b",
    r"\b(?:pretend|act as|roleplay|role-play|play the role|simulate)\b",
    r"\b(?:reply|respond|answer|say|write|output|print|repeat|start your (?:reply|answer)|end your (?:reply|answer)|"
    r")\b[^.?!\n]{0,25}?(?:\bonly\b|\bexactly\b|\bverbatim\b|\bthe words?\b|\bthe phrase\b|[\"“”:]|\bwith\b\s+"
    r"(?-i:[A-Z]{3,}))",
    r"\b(?:reply|respond|answer|say)\s+(?-i:[A-Z]{3,})\b",
    r"</?\s*(?:system|assistant|instructions?|prompt|im_start|im_end)\s*>|\[/?(?:INST|SYS|SYSTEM)\]|<<\s*SYS\s*>>",
    r"^\s*(?:system|assistant|developer)\s*:",
    r"\b(?:confidence|needs_human)\b",
    # social engineering: borrowed authority, approvals that were "already given"
    r"\b(?:i am|i'm|im|this is)\s+(?:the|a|an|your)?\s*(?:ceo|cto|cfo|owner|founder|manager|supervisor|admin|"
    r"administrator|developer|engineer|staff|employee|agent|team lead|director|auditor|police|lawyer)\b",
    r"\b(?:manager|supervisor|agent|admin|team|colleague|boss|ceo|support)\b.{0,20}\b(?:already|has|have|had)\b.{0,15}"
    r"\b(?:approved|authori[sz]ed|agreed|confirmed|promised|allowed)\b",
    r"\bauthori[sz](?:ed|e|ation)\b.{0,20}\b(?:me|you|this|override|code)\b",
    r"\b(?:approve|authori[sz]e|confirm|grant|issue|process)\b.{0,20}\b(?:my|the|a|this|full)?\s*(?:refund|"
    r"reimbursement|compensation|credit|payout|waiver)\b",
    # Indonesian
    r"\b(?:abaikan|lupakan|acuhkan|hiraukan|lewati|langgar)\b.{0,30}\b(?:instruksi|perintah|aturan|petunjuk|"
    r"arahan|kebijakan|pesan)\b",
    r"\b(?:instruksi|perintah|aturan|prompt)\s+(?:baru|sistem|sebelumnya|rahasia|asli)\b",
    r"\b(?:anda|kamu|kau)\s+(?:sekarang|mulai sekarang)\b",
    r"\b(?:berpura-pura|berpura pura|pura-pura|pura pura|berperan sebagai|bertindak sebagai)\b",
    r"\b(?:balas|jawab|katakan|tulis|ucapkan|ketik|sebutkan|ulangi|tuliskan|cetak)\b[^.?!\n]{0,25}?(?:\bhanya\b|"
    r"\bpersis\b|\bkalimat\b|[\"“”:]|\bbahwa\b|\bdengan\b\s+(?-i:[A-Z]{3,}))",
    r"\b(?:balas|jawab|katakan)\s+(?-i:[A-Z]{3,})\b",
    r"\b(?:saya|aku|ini)\s+(?:adalah\s+)?(?:ceo|direktur|manajer|manager|atasan|supervisor|admin|pemilik|karyawan|"
    r"staf|staff|pegawai|petugas|polisi|pengacara|developer)\b",
    r"\b(?:manajer|atasan|supervisor|agen|admin|tim|petugas|cs)\b.{0,25}\b(?:sudah|telah)\b.{0,15}\b(?:menyetujui|"
    r"setuju|mengizinkan|mengonfirmasi|menjanjikan|disetujui)\b",
    r"\b(?:setujui|setujuilah|proses|konfirmasi|berikan|kabulkan)\b.{0,20}\b(?:refund|pengembalian dana|"
    r"pengembalian uang|kompensasi|ganti rugi)\b",
    r"\bsudah disetujui\b",
]
_INJECTION_RE = [re.compile(p, re.IGNORECASE | re.MULTILINE) for p in _INJECTION]

_COMMITMENT = [
    r"(?:\$|us\$|usd|rp\.?|idr|€|£|eur|gbp)\s?\d[\d.,]*|\b\d[\d.,]*\s?(?:dollars?|usd|idr|rupiah|ribu|juta|euros?)\b",
    r"\b(?:approved|approve|approving|authori[sz]ed)\b",
    r"\b(?:refunded|reimbursed|credited|compensated|waived|written off|cancelled|canceled|reversed)\b",
    r"\b(?:refund|reimbursement|compensation|credit)\s+(?:has|have|was|were|is|will be|of)\b",
    r"\b(?:guarantee|guaranteed|guarantees|promise|promised|assure)\b",
    r"\b(?:i|we)\s+(?:have|'ve|will|'ll|just)\s+(?:changed|updated|closed|unlocked|reset|deleted|removed|increased|"
    r"raised|extended|upgraded|reactivated|unblocked|approved|refunded|cancelled|canceled|processed)\b",
    r"\b(?:account|limit|card|email|phone number|password|payment date|due date|plan)\s+(?:has been|was|is now|"
    r"will be)\s+(?:changed|updated|closed|unlocked|reset|deleted|removed|increased|raised|extended|upgraded|"
    r"reactivated|unblocked|cancelled|canceled)\b",
    r"\b(?:refund|reimbursement|payment|account|card|limit|fee|debt|balance)s?\s+(?:processed|issued|sent|deleted|"
    r"closed|cancelled|canceled|waived|unblocked|removed|reset|cleared)\b",
    r"\b(?:never|not|no longer)\b.{0,15}\bbe\s+charged\b",
    # Indonesian
    r"\b(?:disetujui|menyetujui|setujui|diotorisasi)\b",
    r"\b(?:dikembalikan|dikreditkan|dibatalkan|dihapuskan|diganti)\b|\brefund\s+(?:anda\s+)?(?:sudah|telah|akan)\b",
    r"\b(?:dijamin|menjamin|jaminan|garansi|janji|berjanji)\b",
    r"\b(?:sudah|telah)\s+(?:kami\s+)?(?:diubah|diperbarui|ditutup|dibuka|direset|dihapus|dinaikkan|diperpanjang|"
    r"diaktifkan|diproses|ubah|perbarui|tutup|naikkan|proses)\b",
]
_COMMITMENT_RE = [re.compile(p, re.IGNORECASE) for p in _COMMITMENT]
_SPACES = re.compile(r"\s+")


def injection(text: str) -> str | None:
    """The first sign that `text` tries to steer the model or borrow authority, or None."""
    for pattern in _INJECTION_RE:
        m = pattern.search(text or "")
        if m:
            return m.group(0).strip()[:80]
    return None


def _norm(text: str) -> str:
    return _SPACES.sub(" ", (text or "").lower())


def commitments(draft: str, grounding: str) -> list[str]:
    """The promises in `draft` that `grounding` (the articles it rests on) does not make, in order, once each."""
    found = []
    basis = _norm(grounding)
    for pattern in _COMMITMENT_RE:
        for m in pattern.finditer(draft or ""):
            phrase = _norm(m.group(0)).strip()
            if phrase and phrase not in basis and phrase not in found:
                found.append(phrase)
    return found
