"""The rule registry: one module per rule, named after the rule.

A rule module defines ``NAME`` (the stable kebab-case name), ``SEVERITY``, ``TARGET``
(``"dockerfile"`` or ``"gitlab-ci"``), ``FIX_AVAILABILITY`` (whether its findings come with a
fix: always, sometimes, never), ``FIX_TITLE`` (what its fix does, in a few fixed words; ``""``
for a rule that never fixes) and ``check(context)``, which yields findings. Its
docstring is the user documentation (What it does / Why it matters / Example / Use instead /
Fix safety / References): ``layerbot rule NAME`` prints it and ``docs/rules/NAME.md`` is
generated from it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from functools import cache

from layerbot.analysis.model import Finding, FixAvailability, Severity
from layerbot.analysis.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

# Module names in documentation order; adding a rule means adding its module here.
RULE_MODULES = (
    "multi_stage",
    "dependency_layer_order",
    "cleanup_in_same_layer",
    "package_cache",
    "update_with_install",
    "merge_runs",
    "pin_base_image",
    "dockerignore",
    "cache_mount",
    "ci_cache_from",
    "ci_inline_cache",
    "ci_pull_cache_image",
    "ci_cache_builder_stage",
    "ci_kaniko_cache",
)

DOCS_URL = "https://gitlab.com/layerbot/layerbot/-/blob/main/docs/rules/{name}.md"


class Rule(Record):
    __slots__ = ("check", "doc", "fix_availability", "fix_title", "name", "severity", "target")

    def __init__(
        self,
        name: str,
        severity: Severity,
        target: str,
        fix_availability: FixAvailability,
        fix_title: str,
        check: Callable[..., Iterable[Finding]],
        doc: str,
    ) -> None:
        self.name: Final = name
        self.severity: Final = severity
        self.target: Final = target
        self.fix_availability: Final = fix_availability
        self.fix_title: Final = fix_title
        self.check: Final = check
        self.doc: Final = doc

    @property
    def summary(self) -> str:
        """The first line of the documentation."""
        return self.doc.strip().splitlines()[0] if self.doc.strip() else self.name


def _load(module_name: str) -> Rule:
    module = importlib.import_module(f"{__name__}.{module_name}")
    return Rule(
        name=module.NAME,
        severity=module.SEVERITY,
        target=module.TARGET,
        fix_availability=module.FIX_AVAILABILITY,
        fix_title=module.FIX_TITLE,
        check=module.check,
        doc=module.__doc__ or "",
    )


def _target_of(module_name: str) -> str:
    """CI rules are the ``ci_*`` modules: known without importing (``check`` starts lazily)."""
    return "gitlab-ci" if module_name.startswith("ci_") else "dockerfile"


@cache
def rules_for(target: str) -> list[Rule]:
    """The rules for one kind of file, importing only their modules."""
    rules = []
    for module_name in RULE_MODULES:
        if _target_of(module_name) == target:
            rule = _load(module_name)
            assert rule.target == target, f"{module_name} must be named for its target"
            rules.append(rule)
    return rules


def all_rules() -> dict[str, Rule]:
    """Every rule by name, in documentation order."""
    ordered = sorted(
        [*rules_for("dockerfile"), *rules_for("gitlab-ci")],
        key=lambda rule: RULE_MODULES.index(rule.name.replace("-", "_")),
    )
    return {rule.name: rule for rule in ordered}
