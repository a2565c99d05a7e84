"""Which encoder for Indonesian customers? Top-1 on Indonesian questions against the bundled sample KB.

The questions below were written for this benchmark (not copied from the KB; not checked by a native
speaker), two per article. Two KBs: the bundled one as it is (a few articles also carry Indonesian example
questions), and the same with every non-English example question removed (an English-only KB, so the
match is across languages). Drafters: lexical only, and lexical plus each local encoder.

    python bench/indonesian.py            # needs the `multilingual` extra for the e5-small rows
"""
from __future__ import annotations

import dataclasses
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.drafting.retrieval import KBDrafter  # noqa: E402
from bot.kb import load_kb  # noqa: E402
from bot.language import detect  # noqa: E402

QUESTIONS = {
    "cancel-order": ["Saya mau membatalkan pembelian saya", "Pesanan saya belum dikirim, bisa dibatalkan?"],
    "change-payment-date": ["Boleh ganti hari jatuh tempo cicilan saya?",
                            "Saya ingin memindahkan jadwal cicilan ke akhir bulan"],
    "close-account": ["Bagaimana cara menutup akun saya?", "Saya ingin menghapus akun Tandem saya"],
    "contact-support-hours": ["Jam berapa layanan pelanggan buka?", "Bagaimana cara menghubungi customer service?"],
    "declined-purchase": ["Kenapa pembayaran saya ditolak?", "Transaksi saya di toko gagal terus"],
    "early-payoff": ["Bisakah saya melunasi semua cicilan sekarang?", "Saya mau bayar lebih awal"],
    "eligibility-credit-check": ["Apakah riwayat kredit saya diperiksa waktu mendaftar?", "Siapa yang bisa mendaftar Tandem Pay?"],
    "fraud-unrecognised-charge": ["Ada tagihan yang tidak saya kenal", "Sepertinya akun saya dipakai orang lain"],
    "hardship": ["Saya tidak bisa membayar bulan ini karena kehilangan pekerjaan",
                 "Saya sedang kesulitan keuangan, apa yang bisa dilakukan?"],
    "how-pay-in-4-works": ["Bagaimana cara kerja bayar empat kali?", "Apa itu Pay in 4?"],
    "login-2fa": ["Kode verifikasi tidak masuk ke HP saya", "Saya tidak bisa masuk ke akun saya"],
    "missed-payment-late-fees": ["Saya terlambat bayar, apakah ada denda?", "Apa yang terjadi kalau saya lupa membayar?"],
    "order-not-arrived": ["Barang saya belum sampai", "Paket saya tidak pernah datang"],
    "payment-schedule": ["Kapan pembayaran berikutnya?", "Di mana saya bisa melihat jadwal pembayaran saya?"],
    "privacy-delete-data": ["Tolong hapus data pribadi saya", "Bagaimana kalian menggunakan data saya?"],
    "refund-dispute": ["Penjual menolak memberi refund, tolong bantu", "Saya ingin mengajukan sengketa atas pembelian"],
    "refunds-and-returns": ["Saya sudah mengembalikan barang, kapan uang saya kembali?",
                            "Bagaimana cara mengembalikan barang?"],
    "shops-where-to-use": ["Di toko mana saja saya bisa pakai Tandem?", "Apakah bisa dipakai untuk belanja online?"],
    "spending-limit": ["Berapa batas belanja saya?", "Bagaimana cara menaikkan limit saya?"],
    "update-card": ["Saya mau mengganti kartu pembayaran", "Kartu saya sudah kedaluwarsa, bagaimana memperbaruinya?"],
}


def _english_only(articles):
    """The articles with only their English example questions: a question goes when the language detector calls
    it Indonesian or it has a common Indonesian word or chat abbreviation (short informal questions fool the
    detector)."""
    id_words = {"saya", "bagaimana", "apakah", "bisa", "pesanan", "kode", "tidak", "cara", "kalau", "belum", "sampai",
                "apa", "masuk", "dengan", "batalkan", "dibatalkan", "paket", "barang", "kapan", "di", "mana",
                "sy", "gk", "gmn", "yg", "udh", "blm", "bs", "brp", "dmn", "knp", "tgl", "msh", "trs", "dong", "aja",
                "kok", "mau", "pake", "hapus", "toko", "kartu", "lupa", "ganti", "ada", "hrs", "pas", "bgt"}
    words = lambda q: set(re.findall(r"\w+", q.lower()))  # noqa: E731
    keep = lambda q: not (words(q) & id_words) and detect(q, fallback="en")[0] == "en"  # noqa: E731
    return [dataclasses.replace(a, questions=tuple(q for q in a.questions if keep(q))) for a in articles]


def top1(drafter: KBDrafter, ids: list[str]) -> tuple[float, float]:
    questions = [q for qs in QUESTIONS.values() for q in qs]
    labels = [a for a, qs in QUESTIONS.items() for _ in qs]
    started = time.perf_counter()
    order, _, _ = drafter.rank(questions, k=1)
    ms = 1000 * (time.perf_counter() - started) / len(questions)
    return sum(ids[o[0]] == lab for o, lab in zip(order, labels)) / len(labels), ms


def main() -> None:
    from bot.drafting.embeddings import E5SmallEncoder, EmbeddingsUnavailable, PackagedMiniLMEncoder

    encoders = {"lexical": lambda: None, "lexical + MiniLM int8": PackagedMiniLMEncoder,
                "lexical + multilingual-e5-small": E5SmallEncoder}
    bundled = load_kb()
    kbs = {"bundled KB": bundled, "English-only KB": _english_only(bundled)}
    n = sum(len(qs) for qs in QUESTIONS.values())
    print(f"{n} Indonesian questions, {len(QUESTIONS)} articles\n")
    print("| KB | Drafter | Top-1 | ms/question (batch) |\n|---|---|---|---|")
    for kb_name, articles in kbs.items():
        for name, make in encoders.items():
            try:
                encoder = make()
            except EmbeddingsUnavailable as exc:
                print(f"| {kb_name} | {name} | not installed ({exc}) | |")
                continue
            drafter = KBDrafter(articles, encoder=encoder)
            acc, ms = top1(drafter, [a.id for a in drafter.kb_articles])
            print(f"| {kb_name} | {name} | {100 * acc:.1f}% | {ms:.1f} |")


if __name__ == "__main__":
    main()
