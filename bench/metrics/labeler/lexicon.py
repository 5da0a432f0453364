"""Load a label set's phrase lexicon (YAML data files in ./data) into compiled patterns."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from .rules import RuleOptions

DATA_DIR = Path(__file__).parent / "data"


@dataclass(frozen=True)
class LabelPatterns:
    """Compiled phrase patterns of one label (None where the lexicon has no phrase of that kind)."""

    name: str
    findings: re.Pattern[str] | None
    anatomy: re.Pattern[str] | None
    uncertain: re.Pattern[str] | None
    exclude: re.Pattern[str] | None
    # Literal strings one of which every mention contains; None when some phrase has no literal part.
    triggers: tuple[str, ...] | None

    def may_occur_in(self, text: str) -> bool:
        """Cheap pre-check (substring search) before running the regexes."""
        return self.triggers is None or any(trigger in text for trigger in self.triggers)


@dataclass(frozen=True)
class Lexicon:
    labels: list[str]  # output columns, in order
    patterns: list[LabelPatterns]  # includes helper categories that are not output columns
    options: RuleOptions


_QUANTIFIERS = "?*+{"
_METACHARACTERS = set("\\()[]|.^$") | set(_QUANTIFIERS)


def _literal_prefix(phrase: str) -> str:
    """Leading characters of a phrase regex that every match contains verbatim."""
    for i, char in enumerate(phrase):
        if char in _METACHARACTERS:
            return phrase[: i - 1] if char in _QUANTIFIERS else phrase[:i]
    return phrase


def _triggers(phrases: list[str]) -> tuple[str, ...] | None:
    prefixes = [_literal_prefix(p) for p in phrases]
    if any(len(p) < 3 for p in prefixes):
        return None
    return tuple(sorted(set(prefixes)))


def _compile(phrases: list[str] | None) -> re.Pattern[str] | None:
    if not phrases:
        return None
    # Longest first, so that an alternation prefers "pleural effusion" over "effusion".
    ordered = sorted(phrases, key=len, reverse=True)
    return re.compile(r"\b(?:" + "|".join(f"(?:{p})" for p in ordered) + ")")


@cache
def load_lexicon(labelset: str) -> Lexicon:
    spec = yaml.safe_load((DATA_DIR / f"{labelset}.yml").read_text())
    options = RuleOptions(**spec.pop("options", {}))
    labels = spec.pop("labels")
    patterns = [
        LabelPatterns(
            name=name,
            findings=_compile(entry.get("findings")),
            anatomy=_compile(entry.get("anatomy")),
            uncertain=_compile(entry.get("uncertain")),
            exclude=_compile(entry.get("exclude")),
            triggers=_triggers(
                entry.get("findings", []) + entry.get("anatomy", []) + entry.get("uncertain", [])
            ),
        )
        for name, entry in spec.items()
    ]
    return Lexicon(labels=labels, patterns=patterns, options=options)
