"""Answers in the customer's language: the KB drafter detects it offline and picks the article's answer in it,
through the console and Slack; drafts.language is stored, and a taught answer keeps its language."""

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


def test_a_short_message_keeps_the_conversations_previous_language():
    drafter = KBDrafter(load_kb())
    assert drafter.answer("kartu baru?", previous_language="id").language == "id"
    assert drafter.answer("kartu baru?").language == "en"  # nothing earlier: the article's language


def test_an_indonesian_question_gets_an_indonesian_answer_through_the_console(tmp_path):
    import sqlite3

    from tests.test_console import tandem

    db = tmp_path / "console.db"
    scenario = "Bagaimana cara membatalkan pesanan yang sudah saya buat?\n/approve 1\n"
    result = tandem("run", stdin=scenario, env={"TANDEM_DB": str(db), "TANDEM_SUPPORT_HOURS": "24/7"}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "→ to customer: 🤖 Tandem: Pembatalan diurus oleh toko" in result.stdout
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT language FROM drafts").fetchall() == [("id",)]


async def test_an_indonesian_question_gets_an_indonesian_answer_through_slack(tmp_path):
    from bot.kb import bundled_kb_path
    from tests.fakes.slack_client import SlackHarness

    async with SlackHarness(tmp_path, core={"tandem_kb": str(bundled_kb_path()), "tandem_kb_poll": 0}) as slack:
        ts = await slack.say("Kartu lama saya sudah habis masa berlakunya, bagaimana menggantinya?")
        await slack.settle()
        card = slack.buttons(slack.latest_card_blocks())
        draft = slack.core.store.draft(int(card["approve"].rsplit(":", 1)[1]))
        assert (draft.source_list[0].id, draft.language) == ("update-card", "id")
        assert slack.core.store.last_draft_language(draft.conversation_id) == "id"
        await slack.press(card["approve"])
        await slack.settle()
        assert "Di aplikasi, buka" in slack.replies(thread=ts)[-1]


async def test_an_answer_taught_in_indonesian_goes_under_the_articles_indonesian_answer(tmp_path, clock):
    import shutil

    from bot.kb import load_article
    from tests.conftest import AGENT, FIXTURE_KB, LEAD, conv_of, make_settings, say, start_core
    from tests.test_teach import run

    kb_dir = tmp_path / "kb"
    shutil.copytree(FIXTURE_KB, kb_dir)
    core = await start_core(make_settings(tmp_path, tandem_kb=kb_dir, tandem_kb_poll=0), clock)
    try:
        await say(core, "What happens if I pay late?")
        conv = conv_of(core)
        draft = core.store.pending_draft(conv.id)
        assert draft.source_list[0].id == "late-payment" and draft.language == "en"
        new = "Jika pembayaran gagal, kami mencoba lagi setelah 2 hari; tidak ada denda keterlambatan lagi."
        await run(core, AGENT, f"edit {draft.id} {new}")
        await run(core, AGENT, f"teach {conv.id}")
        (version,) = [r for r in core.store.lessons(status="draft") if r["kind"] == "version"]
        assert version["language"] == "id"
        await run(core, LEAD, "kb approve late-payment")
        article = load_article(kb_dir / "late-payment.md")
        assert article.language == "en" and article.answer.startswith("If a payment fails")
        assert dict(article.translations)["id"] == new
    finally:
        await core.stop()
