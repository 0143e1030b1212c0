"""A CI job as the rules read it: its image, services, variables and script lines.

The loader (:mod:`layerbot.analysis.gitlab_ci`) makes these; the build scanner
(:mod:`layerbot.analysis.ci_builds`) reads them. Kept apart from both so that neither imports
the other's reader.
"""

from __future__ import annotations

import re

from layerbot.analysis.ci_yaml import Origin
from layerbot.analysis.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final


class ScriptLine(Record):
    """One entry of a job's script, in run order, with where it was written."""

    __slots__ = ("origin", "section", "text")

    def __init__(self, text: str, section: str, origin: Origin | None) -> None:
        self.text: Final = text
        self.section: Final = section
        self.origin: Final = origin


# An `if:` term true only in a tag pipeline: `$CI_COMMIT_TAG` alone (set, non-empty), or
# compared with `=~`, `== "v1"`, `!= null`/`!= ""`.
_TAG_TERM = re.compile(
    r"""^\$\{?CI_COMMIT_TAG\}?\s*(?:$|=~|==\s*(?!null\b)["'/]?[^"'\s]|!=\s*(?:null|""|''))"""
)


def only_in_tag_pipelines(rules: object, only: object, except_: object) -> bool:
    """Whether a job's ``rules:``, or its ``only:``/``except:``, let it run in tag pipelines
    alone (https://docs.gitlab.com/ci/yaml/#rules, #only--except): every rule that adds the job
    (``when`` other than ``never``) has an ``if:`` that needs ``$CI_COMMIT_TAG``, or ``only``
    names ``tags`` (or ref patterns with ``except: [branches]``) and nothing that matches a
    branch pipeline (``only: variables:``/``changes:`` narrow it further). Anything we cannot
    read counts as "not only tags"."""
    if isinstance(rules, list):
        adding = [r for r in _flat(rules) if isinstance(r, dict) and r.get("when") != "never"]
        return bool(adding) and all(_needs_tag(rule.get("if")) for rule in adding)
    refs = only.get("refs") if isinstance(only, dict) else only
    excepted = except_.get("refs") if isinstance(except_, dict) else except_
    refs = [str(ref) for ref in _flat(refs if isinstance(refs, list) else [refs] if refs else [])]
    excepted = [str(e) for e in _flat(excepted if isinstance(excepted, list) else [excepted])]
    named = [ref for ref in refs if ref != "merge_requests"]
    if not named:
        return False
    if all(ref == "tags" for ref in named):
        return True
    patterns = all(ref == "tags" or ref.startswith("/") for ref in named)
    return patterns and "branches" in excepted


def _needs_tag(condition: object) -> bool:
    if not isinstance(condition, str) or "||" in condition:
        return False
    terms = [term.strip().strip("()").strip() for term in condition.split("&&")]
    return any(_TAG_TERM.match(term) for term in terms)


def _flat(items: list[object]) -> list[object]:
    """A list with nested lists (a ``!reference`` inside it) flattened."""
    flat: list[object] = []
    for item in items:
        flat.extend(_flat(item) if isinstance(item, list) else [item])
    return flat


class Job:
    __slots__ = (
        "cache_paths",
        "image",
        "name",
        "origin",
        "scripts",
        "services",
        "tag_pipelines_only",
        "tags",
        "variables",
    )

    def __init__(
        self,
        name: str,
        origin: Origin,
        image: str | None,
        services: tuple[str, ...],
        variables: dict[str, str],
        scripts: tuple[ScriptLine, ...],
        tags: tuple[str, ...] = (),
        cache_paths: tuple[str, ...] = (),
        tag_pipelines_only: bool = False,
    ) -> None:
        self.name = name
        self.origin = origin
        self.image = image
        self.services = services
        self.variables = variables
        self.scripts = scripts
        self.tags = tags  # the runner tags that pick where it runs
        self.cache_paths = cache_paths  # what its `cache:` keeps between pipelines
        # its rules/only/except let it run in tag pipelines alone (:func:`only_in_tag_pipelines`)
        self.tag_pipelines_only = tag_pipelines_only
