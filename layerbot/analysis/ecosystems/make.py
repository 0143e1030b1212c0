"""Builds driven by ``make``: which package manager a ``make <target>`` runs.

Many projects build through a Makefile (``COPY . .`` then ``RUN make build``), so the
``go build`` or ``cargo build`` that downloads the dependencies is in the recipe, not in the
Dockerfile. The recipe of the targets asked for (the first target when none is: GNU make's
default goal), of their prerequisites and of the targets they run with ``$(MAKE) <target>`` is
read with the shell reader, after expanding the Makefile's own simple variables
(``GO ?= go``, ``$(GO) build``). GNU make manual, "Rule Syntax", "Pattern Rules" (``%``),
"How to Use Variables" and "Arguments to Specify the Goals".

Only what can be read is judged: a target that is not in the Makefile, or a recipe that only
calls scripts, is no dependency step (a false finding costs more than a miss).
"""

from __future__ import annotations

import fnmatch
import re

from layerbot.analysis.ecosystems.steps import DependencyStep, StepKind, classify
from layerbot.analysis.shell import Command, commands

MAKE_PROGRAMS = frozenset({"make", "gmake"})
MAKEFILE_NAMES = ("GNUmakefile", "makefile", "Makefile")  # the order GNU make looks in

# Read only for a RUN that calls make: kept as text, ``re`` compiles each when first used.
_ASSIGNMENT = r"^(?:export\s+|override\s+)?([A-Za-z_][\w.-]*)\s*(\?|:{1,3}|\+|!)?=\s*(.*)$"
_RULE = r"^([^\t#=:][^=:]*?)\s*::?(?!=)\s*([^;=]*?)\s*(?:;\s*(.*))?$"
_REFERENCE = r"\$[({]([A-Za-z_][\w.-]*)[)}]"
# Go builds from vendor/: nothing to download.
GO_VENDOR_FLAG = r"-mod[= ]vendor\b"
# Options whose value is the next argument (GNU make manual, "Summary of Options").
_VALUE_OPTIONS = frozenset({"-C", "-f", "--file", "--makefile", "-I", "-j", "-l", "-o", "-W"})


class _Makefile:
    __slots__ = ("order", "rules", "variables")

    def __init__(self, variables: dict[str, str]) -> None:
        self.variables = variables
        self.rules: dict[str, tuple[list[str], list[str]]] = {}
        self.order: list[str] = []

    def expand(self, text: str) -> str:
        """``$(NAME)``/``${NAME}`` replaced by the Makefile's value (a few rounds, for
        variables defined through others; an undefined one is empty, as in make) and ``$$``
        by the ``$`` the shell sees."""
        for _ in range(4):
            expanded = re.sub(_REFERENCE, lambda m: self.variables.get(m.group(1), ""), text)
            if expanded == text:
                break
            text = expanded
        return text.replace("$$", "$")

    def rule(self, goal: str) -> tuple[list[str], list[str]] | None:
        """Prerequisites and recipe of ``goal``: an explicit rule, else a pattern rule."""
        if goal in self.rules:
            return self.rules[goal]
        for target, rule in self.rules.items():
            if "%" in target and fnmatch.fnmatchcase(goal, target.replace("%", "*")):
                return rule
        return None


def _parse(text: str) -> _Makefile:
    makefile = _Makefile(variables={"MAKE": "make", "CURDIR": ".", "PWD": "."})
    current: list[str] | None = None
    joined = re.sub(r"\\\n\s*", " ", text)
    for line in joined.splitlines():
        if line.startswith("\t"):
            if current is not None:
                current.append(line.strip().lstrip("@-+").strip())
            continue
        stripped = line.split("#", 1)[0].rstrip()
        if not stripped.strip():
            continue
        assignment = re.match(_ASSIGNMENT, stripped.strip())
        rule = None if assignment else re.match(_RULE, stripped)
        current = None
        if assignment:
            name, operator, value = assignment.groups()
            if operator == "+":
                value = f"{makefile.variables.get(name, '')} {value}"
            if operator != "?" or name not in makefile.variables:
                makefile.variables[name] = value.strip()
        elif rule:
            recipe = [rule.group(3).strip()] if rule.group(3) else []
            current = recipe
            for target in rule.group(1).split():
                if target not in makefile.rules:
                    makefile.rules[target] = (rule.group(2).split(), recipe)
                    makefile.order.append(target)
    return makefile


def goals(command: Command) -> list[str]:
    """The targets a ``make`` command asks for (variable assignments and options skipped)."""
    return [word for word in command.arguments(_VALUE_OPTIONS) if "=" not in word]


def makefile_dir(command: Command) -> str | None:
    """The folder ``make -C DIR`` runs in, if the command says."""
    argv = list(command.argv)
    for index, arg in enumerate(argv[:-1]):
        if arg == "-C":
            return argv[index + 1]
    return None


def _recipe_steps(makefile: _Makefile, goal: str, seen: set[str]) -> list[DependencyStep]:
    if goal in seen:
        return []
    seen.add(goal)
    rule = makefile.rule(goal)
    if rule is None:
        return []
    prerequisites, recipe = rule
    found = []
    for prerequisite in prerequisites:
        found += _recipe_steps(makefile, makefile.expand(prerequisite), seen)
    for line in recipe:
        for command in commands(makefile.expand(line)):
            if command.program in MAKE_PROGRAMS:
                for sub_goal in goals(command):
                    found += _recipe_steps(makefile, sub_goal, seen)
                continue
            step = classify(command)
            vendored = re.search(
                GO_VENDOR_FLAG, f"{command.text} {makefile.variables.get('GOFLAGS', '')}"
            )
            if step is not None and not vendored:
                found.append(step)
    return found


def make_step(command: Command, makefile_text: str) -> DependencyStep | None:
    """The dependency step ``command`` (``make build``) runs through the Makefile, as a build
    of that ecosystem named by the ``make`` command itself; ``None`` when its recipes run no
    package manager we know."""
    makefile = _parse(makefile_text)
    wanted = goals(command) or [t for t in makefile.order if not t.startswith(".")][:1]
    seen: set[str] = set()
    for goal in wanted:
        for step in _recipe_steps(makefile, goal, seen):
            return DependencyStep(step.ecosystem, StepKind.BUILD, command, step.command)
    return None
