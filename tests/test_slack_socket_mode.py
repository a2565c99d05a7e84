"""Socket Mode: with SLACK_APP_TOKEN the adapter opens a WebSocket (no HTTP server), records, then acks."""
from __future__ import annotations

import time

from tests.fakes.slack_client import CUSTOMER, SUPPORT, TEAM, SlackHarness


async def test_socket_mode_event_is_recorded_and_acknowledged(tmp_path, monkeypatch):
    harness = SlackHarness(tmp_path, slack_app_token="xapp-1-A0TANDEM-1-abc", slack_signing_secret=None)
    async with harness as slack:
        assert slack.adapter.port is None, "no HTTP server in Socket Mode"
        assert slack.api.called("apps.connections.open")
        payload = {"type": "event_callback", "team_id": TEAM, "event_id": "EvSock1", "event_time": int(time.time()),
                   "event": {"type": "message", "channel": SUPPORT, "user": CUSTOMER, "ts": "1700000900.000100",
                             "text": "Can I change my payment due date?", "channel_type": "channel"}}
        await slack.api.socket_send({"envelope_id": "env-1", "type": "events_api", "payload": payload,
                                     "accepts_response_payload": False, "retry_attempt": 0, "retry_reason": ""})
        ack = await slack.api.wait_for("socket_ack", lambda c: c.params.get("envelope_id") == "env-1")
        assert ack
        await slack.settle()
        assert slack.core.store._one("select count(*) n from inbox")["n"] == 1
        assert len(slack.cards()) == 1
        # the acknowledgement was timed from the listener (no HTTP request to stamp it)
        assert 'tandem_ack_seconds_count{platform="slack"} 1.0' in slack.core.metrics.render().decode()


async def test_socket_mode_event_with_a_numeric_user_id_is_recorded(tmp_path):
    """bolt cannot read a number where a user id belongs; the customer's message must be recorded all the same."""
    harness = SlackHarness(tmp_path, slack_app_token="xapp-1-A0TANDEM-1-abc", slack_signing_secret=None)
    async with harness as slack:
        payload = {"type": "event_callback", "team_id": TEAM, "event_id": "EvSock2", "event_time": int(time.time()),
                   "event": {"type": "message", "channel": SUPPORT, "user": 12345, "ts": "1700000900.000200",
                             "text": "Can I change my payment due date?", "channel_type": "channel"}}
        await slack.api.socket_send({"envelope_id": "env-2", "type": "events_api", "payload": payload,
                                     "accepts_response_payload": False, "retry_attempt": 0, "retry_reason": ""})
        assert await slack.api.wait_for("socket_ack", lambda c: c.params.get("envelope_id") == "env-2")
        await slack.settle()
        rows = list(slack.core.store.db.query("SELECT customer_id FROM conversations"))
        assert rows == [{"customer_id": "12345"}]
