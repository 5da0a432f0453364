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


@dataclass(frozen=True)
class Lexicon:
    labels: list[str]  # output columns, in order
    patterns: list[LabelPatterns]  # includes helper categories that are not output columns
    options: RuleOptions


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
        )
        for name, entry in spec.items()
    ]
    return Lexicon(labels=labels, patterns=patterns, options=options)
