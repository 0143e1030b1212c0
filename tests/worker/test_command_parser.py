"""One command reader for the web filter and the worker (issue 12, point 8)."""

from __future__ import annotations

import pytest

from bot.webhook import Enqueue, Ignored, classify
from layerbot.commands import BotCommand, parse_command
from layerbot.settings import Settings

SHAPES = [
    ("@layerbot help", BotCommand("help")),
    ("@layerbot: help", BotCommand("help")),
    ("@layerbot, help", BotCommand("help")),
    ("@LayerBot:  Ignore pin-base-image ", BotCommand("ignore", "pin-base-image")),
    ("@layerbot,apply all", BotCommand("apply", "all")),
    ("Thanks for the review.\n\n@layerbot recheck\n", BotCommand("recheck")),
]


@pytest.mark.parametrize(("body", "expected"), SHAPES)
def test_every_mention_shape_parses_the_same_for_the_bot(body: str, expected: BotCommand) -> None:
    assert parse_command(body, "layerbot") == expected
    assert parse_command(body) == expected  # the web side: any mention, the worker checks


@pytest.mark.parametrize(
    "body",
    [
        "```\n@layerbot apply\n```\n> @layerbot apply",
        "@layerbot make coffee",
        "hey @layerbot apply",
        "@layerbotx apply",
        "@layerbot applying it myself",
        "@layerbot",
    ],
)
def test_code_quotes_other_words_and_other_users_are_not_commands(body: str) -> None:
    assert parse_command(body, "layerbot") is None


def _note_event(body: str) -> dict[str, object]:
    return {
        "object_kind": "note",
        "event_type": "note",
        "project": {"id": 7},
        "object_attributes": {
            "id": 11,
            "note": body,
            "noteable_type": "MergeRequest",
            "system": False,
            "action": "create",
        },
        "merge_request": {"iid": 3},
    }


@pytest.mark.parametrize(("body", "expected"), SHAPES)
def test_the_web_filter_queues_exactly_what_the_worker_parses(
    body: str, expected: BotCommand
) -> None:
    decision = classify("Note Hook", _note_event(body), Settings())
    assert isinstance(decision, Enqueue), decision
    assert decision.args == (7, 3, 11, False)


def test_the_web_filter_ignores_what_the_worker_would_not_answer() -> None:
    decision = classify("Note Hook", _note_event("@layerbot thanks a lot"), Settings())
    assert isinstance(decision, Ignored)
    assert decision.reason == "not_a_command"
