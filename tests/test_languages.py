"""Answers in the customer's language: the KB drafter detects it offline and picks the article's answer in it."""

from bot.drafting.retrieval import KBDrafter
from bot.kb import load_kb
from bot.language import detect


def test_indonesian_question_gets_the_indonesian_answer():
    result = KBDrafter(load_kb()).answer("Bagaimana cara membatalkan pesanan yang sudah saya buat?")
    assert result.sources[0].id == "cancel-order"
    assert result.language == "id"
    assert "Pembatalan diurus oleh toko" in result.text


def test_english_stays_english():
    result = KBDrafter(load_kb()).answer("How do I cancel an order I placed?")
    assert result.language == "en"
    assert result.text.startswith("Cancellations are handled by the shop")


def test_article_without_indonesian_answers_in_its_own_language(tmp_path):
    (tmp_path / "update-card.md").write_text(
        "---\ntitle: Updating your payment card\nquestions:\n  - How do I change my card?\n"
        "  - Bagaimana cara ganti kartu?\n---\nIn the app go to **Wallet > Add card** and enter the new card.\n")
    result = KBDrafter(load_kb(tmp_path)).answer("Bagaimana cara mengganti kartu saya untuk pembayaran?")
    assert result.sources[0].id == "update-card"
    assert result.language == "en"


def test_every_sample_article_has_an_indonesian_answer_and_questions():
    for article in load_kb():
        assert "id" in dict(article.translations), article.id
        indonesian = [q for q in article.questions if detect(q)[0] == "id"]
        assert len(indonesian) >= 3, (article.id, indonesian)


def test_short_messages_fall_back():
    assert detect("halo", fallback="id") == ("id", 0.0)
    assert detect("ok", fallback=None)[0] == "en"
    assert detect("Bagaimana cara membatalkan pesanan saya?")[0] == "id"


def test_more_indonesian_articles_answer_in_indonesian():
    drafter = KBDrafter(load_kb())
    late = drafter.answer("Barang yang saya pesan belum datang juga, bagaimana ini?")
    assert (late.sources[0].id, late.language) == ("order-not-arrived", "id")
    login = drafter.answer("Saya tidak menerima kode verifikasi SMS untuk masuk")
    assert (login.sources[0].id, login.language) == ("login-2fa", "id")
