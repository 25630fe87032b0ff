"""Outbox rows of webhook, Slack and Teams channels hold JSON: Trial Watch shows it, not an empty email."""

from __future__ import annotations

from trialwatch_ui.queries import message_parts


def test_a_channel_row_is_shown_as_indented_json() -> None:
    parts = message_parts('{"text":"NK: 2 changes (daily digest)","blocks":[{"type":"header"}]}')
    assert parts["headers"] == {} and parts["html"] is None
    assert parts["text"].splitlines() == [
        "{",
        '  "text": "NK: 2 changes (daily digest)",',
        '  "blocks": [',
        "    {",
        '      "type": "header"',
        "    }",
        "  ]",
        "}",
    ]
