"""``.layerbot.yml`` and inline ``# layerbot ignore=RULE`` comments.

``.layerbot.yml``::

    disable: [merge-runs]            # rules never reported
    severity: {pin-base-image: major} # severity overrides
    exclude: ["vendor/**"]           # paths never analysed
    inline-info: true                # the bot also comments info findings inline

Inline: ``# layerbot ignore=RULE[,RULE]`` on the line(s) just above an instruction (or a CI job
or script line) silences those rules there; ``# layerbot ignore-file=RULE[,RULE]`` anywhere in a
file silences them for the whole file, and a bare ``# layerbot ignore-file`` silences every rule.
"""

from __future__ import annotations

import re

from layerbot.analysis.model import Finding, Severity
from layerbot.analysis.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

CONFIG_FILE = ".layerbot.yml"
ALL_RULES = "*"

# Comment lines naming layerbot only: kept as text, ``re`` compiles each when first used.
_IGNORE = r"#\s*layerbot\s+ignore\s*=\s*([\w\-, ]+)"
_IGNORE_FILE = r"#\s*layerbot\s+ignore-file(?:\s*=\s*([\w\-, ]+))?"


class ConfigError(ValueError):
    """``.layerbot.yml`` is malformed; the message says which key."""


class Config(Record):
    __slots__ = ("disabled", "exclude", "inline_info", "severities")

    def __init__(
        self,
        disabled: frozenset[str] = frozenset(),
        severities: dict[str, Severity] | None = None,
        exclude: tuple[str, ...] = (),
        inline_info: bool = False,
    ) -> None:
        self.disabled: Final = disabled
        self.severities: Final[dict[str, Severity]] = {} if severities is None else severities
        self.exclude: Final = exclude
        # ``info`` findings (advice) go to the bot's summary table only unless this is set.
        self.inline_info: Final = inline_info

    def with_disabled(self, *rules: str) -> Config:
        disabled = self.disabled | frozenset(rules)
        return Config(disabled, self.severities, self.exclude, self.inline_info)

    def adjust(self, finding: Finding) -> Finding | None:
        """The finding as configured, or ``None`` when its rule is disabled."""
        if finding.rule in self.disabled:
            return None
        severity = self.severities.get(finding.rule)
        return finding.with_severity(severity) if severity else finding


def _string_list(data: dict[str, object], key: str) -> list[str]:
    value = data.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{CONFIG_FILE}: '{key}' must be a list of strings")
    return value


def parse_config(text: str | None) -> Config:
    """Read ``.layerbot.yml`` text (``None`` or empty: defaults)."""
    if not text or not text.strip():
        return Config()
    import yaml  # only when a repository has a config: `layerbot check` starts without it

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"{CONFIG_FILE} is not valid YAML: {error}") from None
    if data is None:
        return Config()
    if not isinstance(data, dict):
        raise ConfigError(f"{CONFIG_FILE} must be a mapping")
    unknown = set(data) - {"disable", "severity", "exclude", "inline-info"}
    if unknown:
        raise ConfigError(f"{CONFIG_FILE}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    severities_raw = data.get("severity", {}) or {}
    if not isinstance(severities_raw, dict):
        raise ConfigError(f"{CONFIG_FILE}: 'severity' must map rule names to severities")
    severities = {}
    for rule, value in severities_raw.items():
        try:
            severities[str(rule)] = Severity(str(value))
        except ValueError:
            choices = ", ".join(s.value for s in Severity)
            raise ConfigError(
                f"{CONFIG_FILE}: severity of {rule} must be one of {choices}"
            ) from None
    inline_info = data.get("inline-info", False)
    if not isinstance(inline_info, bool):
        raise ConfigError(f"{CONFIG_FILE}: 'inline-info' must be true or false")
    return Config(
        disabled=frozenset(_string_list(data, "disable")),
        severities=severities,
        exclude=tuple(_string_list(data, "exclude")),
        inline_info=inline_info,
    )


def _rules_in(match: re.Match[str]) -> set[str]:
    listed = match.group(1)
    if listed is None:
        return {ALL_RULES}
    return {name.strip() for name in listed.split(",") if name.strip()}


class Suppressions(Record):
    """Inline ignores of one file: per line, and file-wide."""

    __slots__ = ("by_line", "file_wide")

    def __init__(self, file_wide: frozenset[str], by_line: dict[int, frozenset[str]]) -> None:
        self.file_wide: Final = file_wide
        self.by_line: Final = by_line

    @classmethod
    def scan(cls, lines: list[str]) -> Suppressions:
        file_wide: set[str] = set()
        by_line: dict[int, frozenset[str]] = {}
        if not any("layerbot" in line for line in lines):
            return cls(frozenset(), by_line)  # no directive: most files
        pending: set[str] = set()
        for number, line in enumerate(lines, start=1):
            stripped = line.strip()
            if "layerbot" in stripped and stripped.startswith("#"):
                whole = re.search(_IGNORE_FILE, stripped)
                if whole:
                    file_wide |= _rules_in(whole)
                    continue
                here = re.search(_IGNORE, stripped)
                if here:
                    pending |= _rules_in(here)
                    continue
            if stripped.startswith("#") or (not stripped and pending):
                continue
            if pending:
                by_line[number] = frozenset(pending)
                pending = set()
        return cls(frozenset(file_wide), by_line)

    def silences(self, finding: Finding, anchors: tuple[int, ...] = ()) -> bool:
        """Whether ``finding`` is ignored here; ``anchors`` are extra lines (a CI job's key)."""
        if ALL_RULES in self.file_wide or finding.rule in self.file_wide:
            return True
        return any(finding.rule in self.by_line.get(line, ()) for line in (finding.line, *anchors))
