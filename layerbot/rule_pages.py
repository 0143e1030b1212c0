"""A rule's documentation where the reader of a comment can reach it, from its docstring.

The web side serves every rule's page (``GET /rules/<name>``): the text ``layerbot rule NAME``
prints, as Markdown or as escaped HTML, so a link in a comment works on any instance whose
``PUBLIC_URL`` is set. Without a public URL a link would point at a page the team may not
reach, so a comment carries the rule's own explanation in a collapsed ``<details>`` instead.
All of it is pure: rule name in, text out.
"""

from __future__ import annotations

import html
import inspect

from layerbot.analysis.rules import Rule, all_rules
from layerbot.docs import rule_markdown

EXPLAINED_SECTIONS = ("What it does", "Why it matters")
"""The sections a comment carries when it cannot link the rule's page."""


def find_rule(name: str) -> Rule | None:
    return all_rules().get(name)


def sections(rule: Rule) -> dict[str, str]:
    """The docstring's ``## Heading`` sections, heading to text."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in inspect.cleandoc(rule.doc).splitlines():
        if line.startswith("## "):
            current = found.setdefault(line[3:].strip(), [])
        elif current is not None:
            current.append(line)
    return {heading: "\n".join(lines).strip() for heading, lines in found.items()}


def page_markdown(rule: Rule) -> str:
    """Exactly what ``layerbot rule NAME`` prints."""
    return rule_markdown(rule)


def page_html(rule: Rule) -> str:
    """The same text as a standalone HTML page; every character of it escaped."""
    title = html.escape(f"layerbot rule {rule.name}")
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{title}</title>\n</head>\n<body>\n"
        f'<pre style="white-space: pre-wrap">{html.escape(page_markdown(rule))}</pre>\n'
        "</body>\n</html>\n"
    )


def rule_reference(name: str, docs_url: str | None) -> str:
    """The rule's name in a comment: a link to its page, or plain code without a page."""
    if docs_url is None:
        return f"`{name}`"
    return f"[`{name}`]({docs_url.format(name=name)})"


def rule_explanation(name: str, docs_url: str | None) -> str:
    """What a comment adds about the rule: nothing when it links the page, else the rule's
    "What it does" and "Why it matters" in a collapsed block (empty for an unknown name)."""
    rule = find_rule(name)
    if docs_url is not None or rule is None:
        return ""
    parts = sections(rule)
    body = "\n\n".join(
        f"**{heading}.** {parts[heading]}" for heading in EXPLAINED_SECTIONS if parts.get(heading)
    )
    return (
        f"<details>\n<summary>About <code>{html.escape(name)}</code></summary>\n\n"
        f"{body}\n\n</details>"
    )
