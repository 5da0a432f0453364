"""The benchmarks' fact sheets (bench/datasets/facts/<name>.yaml; rendered to docs/datasets/<name>.md).

Each fact is a value with the public sources it was verified from. The demo generator writes its files from these
facts, and `data check` compares folders with the official counts, so a wrong assumption in an adapter shows up
as a failing test instead of being mirrored by its fixtures.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

FACTS_DIR = Path(__file__).resolve().parent / "facts"


@dataclass(frozen=True)
class Fact:
    key: str
    value: Any
    sources: tuple[str, ...]
    note: str = ""
    verified: bool = True


@dataclass(frozen=True)
class FactSheet:
    dataset: str
    title: str
    summary: str
    sources: dict[str, dict[str, str]]
    facts: dict[str, Fact]
    conventions: dict[str, dict[str, Any]]

    def __getitem__(self, key: str) -> Any:
        if key not in self.facts:
            raise KeyError(f"the {self.dataset} fact sheet has no fact {key!r}")
        return self.facts[key].value


def sheet_names() -> list[str]:
    return sorted(path.stem for path in FACTS_DIR.glob("*.yaml"))


@cache
def load_sheet(dataset: str) -> FactSheet:
    import yaml

    path = FACTS_DIR / f"{dataset}.yaml"
    if not path.is_file():
        raise KeyError(f"no fact sheet for {dataset!r} (looked for {path})")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    facts = {
        key: Fact(
            key=key,
            value=item.get("value"),
            sources=tuple(item.get("sources") or ()),
            note=str(item.get("note") or ""),
            verified=bool(item.get("verified", True)),
        )
        for key, item in (data.get("facts") or {}).items()
    }
    return FactSheet(
        dataset=str(data["dataset"]),
        title=str(data.get("title", dataset)),
        summary=str(data.get("summary", "")).strip(),
        sources=dict(data.get("sources") or {}),
        facts=facts,
        conventions=dict(data.get("conventions") or {}),
    )


def fact(dataset: str, key: str) -> Any:
    """The value of one fact of one benchmark's sheet."""
    return load_sheet(dataset)[key]


def split_counts(dataset: str) -> dict[str, int]:
    """Images per adapter split as the publisher states them (fact `split_counts`; "total" = all splits)."""
    try:
        value = fact(dataset, "split_counts")
    except KeyError:
        return {}
    return {str(k): int(v) for k, v in value.items()}


def count_warnings(dataset: str, counted: dict[str, int]) -> list[str]:
    """One sentence per split holding fewer images than the publisher ships (a partial download, usually)."""
    official = split_counts(dataset)
    warnings = []
    checks = dict(counted)
    # "total" is for datasets without an official split (cxrbench's seeded splits partition the whole release)
    if "total" in official and not any(split in official for split in counted):
        checks["total"] = sum(counted.values())
    for split, n in checks.items():
        expected = official.get(split)
        if expected is not None and n < expected:
            where = "in all splits" if split == "total" else f"in split {split!r}"
            warnings.append(
                f"{dataset}: {n} images {where}, the publisher's release has {expected:,} "
                f"({expected - n:,} missing: a partial download or extraction?)"
            )
    return warnings
