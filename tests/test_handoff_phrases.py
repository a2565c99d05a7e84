"""Explicit requests for a person, in English and Indonesian, are recognised; ordinary questions are not."""
import pytest

from bot.handoff import asks_for_human


@pytest.mark.parametrize("text", [
    "human", "agent please", "Can I talk to a real person?", "I want to speak with a human",
    "connect me to customer service", "put me through to someone", "I'd prefer talking to a human tbh",
    "How can I speak with one of your non-robotic agents?", "Can I get someone else on the line?",
    "stop talking to bots, get me to a representative", "I don't want to talk to you!",
    "this bot is useless, can't help", "I don't feel comfortable sharing this with a machine",
    "live agent", "is there a person there?",
    "please call me back", "can someone call me?", "call me at 555 0100 please", "could you call me",
    # Indonesian
    "saya mau bicara dengan CS", "tolong sambungkan ke manusia", "minta orang asli dong", "cs dong",
    "bukan bot, saya mau petugas", "hubungi admin", "saya ingin ngobrol dengan customer service",
])
def test_requests_for_a_person(text):
    assert asks_for_human(text)


@pytest.mark.parametrize("text", [
    "how do I transfer money to someone", "i need to make a transfer to a new person",
    "Can I send the cheque to someone else?", "Is it possible to deposit a cheque under somebody else's name?",
    "when is my next payment due", "my card is not working", "can I add another person to my account",
    "what are your support hours", "how does pay in 4 work",
    "call me bob from now on", "you can call me sarah", "could you call me by a different name, please",
    "what do you call me",
    "kapan jatuh tempo pembayaran saya", "bagaimana cara ganti kartu", "orang tua saya mau daftar juga bisa?",
])
def test_ordinary_questions_are_not_requests(text):
    assert not asks_for_human(text)
