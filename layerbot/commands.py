"""The one reader of note commands (``@bot recheck``, ``@bot: ignore RULE``, ``@bot, apply all``).

The web side uses it to decide whether a note is worth queueing, the worker to decide what to
do, so a note the web side queues is a note the worker understands. Pure: text in, command out.

A command is a line, outside code blocks and quotes, that starts with a mention followed by a
space, ``:`` or ``,`` and one of :data:`COMMANDS` (any case): the note's first line or a line on
its own further down. The first such line wins; mentions with other words are conversation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

COMMANDS = ("recheck", "ignore", "apply", "help")

_LINE = re.compile(r"^@(?P<user>[\w.\-]+?)(?:[:,]\s*|\s+)(?P<word>[A-Za-z]+)\b(?P<rest>.*)$")


@dataclass(frozen=True)
class BotCommand:
    name: str
    argument: str = ""


def parse_command(body: str, bot_username: str | None = None) -> BotCommand | None:
    """The first command line of ``body`` addressed to ``bot_username`` (any user when
    ``None``: the web side does not know the bot's name, the worker checks it)."""
    in_code = False
    for raw in body.splitlines():
        line = raw.strip()
        if line.startswith(("```", "~~~")):
            in_code = not in_code
            continue
        if in_code or line.startswith(">"):
            continue
        match = _LINE.match(line)
        if match is None:
            continue
        if bot_username is not None and match.group("user").lower() != bot_username.lower():
            continue
        name = match.group("word").lower()
        if name in COMMANDS:
            return BotCommand(name, match.group("rest").strip())
    return None
