"""Discord intake stays alive: a frame that is not a JSON object, an INVALID_SESSION or a dropped socket ends
in a reconnect (RESUME when the session allows it, so nothing sent meanwhile is missed), never in a silent
stop. Real discord.py against the fake gateway.
"""
from __future__ import annotations

import discord
import pytest

from tests.discord_harness import Desk, until
from tests.fakes.discord_fake import FakeDiscord


@pytest.fixture
async def fake():
    f = await FakeDiscord().start()
    yield f
    await f.stop()


@pytest.fixture
async def desk(fake, tmp_path):
    d = await Desk(fake, str(tmp_path / "tandem.db")).start()
    yield d
    await d.stop()


def recorded_texts(desk: Desk) -> list[str]:
    return [m["text"] for m in desk.core.store.db["messages"].rows]


async def message_is_recorded(desk: Desk, text: str) -> None:
    msg = desk.world.customer_message(desk.world.support_channel, text)
    await desk.send("MESSAGE_CREATE", msg)
    await until(lambda: text in recorded_texts(desk), what=f"{text!r} recorded")


@pytest.mark.parametrize("frame", ["{", "null", "[]", '"text"', "42"])
async def test_a_frame_that_is_not_a_json_object_ends_in_a_resume_and_nothing_is_missed(desk, fake, frame, caplog):
    await message_is_recorded(desk, "before the bad frame")
    await fake.send_raw(frame)
    # sent while the client is reconnecting: the RESUME must replay it
    await fake.dispatch("MESSAGE_CREATE", desk.world.customer_message(desk.world.support_channel, "during the gap"))
    await until(lambda: fake.resumes, what="a RESUME after the bad frame")
    await until(lambda: "during the gap" in recorded_texts(desk), what="the message sent during the gap")
    await message_is_recorded(desk, "after the bad frame")
    assert len(fake.identifies) == 1
    assert any(r.levelname == "ERROR" and "gateway" in r.getMessage() for r in caplog.records)


async def test_invalid_session_not_resumable_identifies_again_and_intake_works(desk, fake, caplog):
    await message_is_recorded(desk, "before")
    await fake.invalidate_session(resumable=False)
    await until(lambda: len(fake.identifies) == 2, timeout=15, what="a second IDENTIFY")
    await fake.wait_ready(timeout=10)
    await message_is_recorded(desk, "after a new session")
    assert any(r.levelname == "ERROR" and "invalidated the session" in r.getMessage() for r in caplog.records)
    assert desk.adapter.health().connected


async def test_invalid_session_resumable_resumes_and_intake_works(desk, fake):
    await message_is_recorded(desk, "before")
    await fake.invalidate_session(resumable=True)
    await until(lambda: fake.resumes or len(fake.identifies) == 2, timeout=15, what="a RESUME or IDENTIFY")
    await fake.wait_ready(timeout=10)
    await message_is_recorded(desk, "after the invalid session")


async def test_a_refused_resume_ends_in_a_new_session_and_intake_works(desk, fake):
    fake.refuse_resume = True
    await fake.send_raw("null")
    await until(lambda: len(fake.identifies) == 2, timeout=15, what="IDENTIFY after the refused RESUME")
    await fake.wait_ready(timeout=10)
    await message_is_recorded(desk, "after the refused resume")
    assert desk.adapter.health().connected


async def test_a_dropped_socket_resumes(desk, fake):
    await fake.drop_connection()
    await until(lambda: fake.resumes, timeout=10, what="a RESUME after the drop")
    await message_is_recorded(desk, "after the drop")


async def test_a_close_discord_py_will_not_retry_is_an_error_and_shows_in_health(desk, fake, caplog):
    await fake.drop_connection(code=4004)  # authentication failed: discord.py closes the client for good
    await until(lambda: not desk.adapter.health().connected and "for good" in desk.adapter.health().detail,
                what="health says down for good")
    assert any(r.levelname == "ERROR" and "ended for good" in r.getMessage() for r in caplog.records)


async def test_tandem_commands_are_hidden_from_members_without_staff_rights(desk, fake):
    synced = fake.find("PUT", r"/applications/\d+/guilds/\d+/commands")
    assert synced, "no app command sync"
    [group] = [c for c in synced[-1].json if c["name"] == "tandem"]
    wanted = discord.Permissions(manage_messages=True).value
    assert str(group.get("default_member_permissions")) == str(wanted)  # Discord takes the bit set as a string or int
