"""Leaderboard specs: which rows (models) and columns (benchmark × task × metric × mode) a paper table has.

A spec is a YAML file (see docs/leaderboards.md); `load_spec` validates it and expands `modes` / `fractions`
into leaf columns. Rows are either *reproduced* (matched to run directories by model spec) or *reported*
(numbers typed in from a paper, with a citation); a row is never both.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import yaml

from bench.errors import BadInputError
from bench.tasks import MODES, TASK_NAMES
from leaderboards.directions import metric_direction

SPEC_DIR = Path(__file__).parent
TASKS = TASK_NAMES
TESTS = ("paired_bootstrap", "approximate_randomization", "delong", "none")

_TOP_KEYS = {
    "name",
    "title",
    "caption",
    "format",
    "significance",
    "best",
    "order",
    "fractions",
    "columns",
    "rows",
    "subgroups",
}
_COLUMN_KEYS = {
    "id",
    "benchmark",
    "task",
    "metric",
    "mode",
    "modes",
    "label",
    "split",
    "fractions",
    "lower_is_better",
    "target",
}
_ROW_KEYS = {"id", "label", "model", "reported"}
_REPORTED_KEYS = {"citation", "bibtex_key", "values"}
_FORMAT_KEYS = {"digits", "scale", "ci", "seeds", "missing"}
_SIGNIFICANCE_KEYS = {"test", "alpha", "n_boot", "n_perm", "seed", "family", "resolution", "max_replicates"}
FAMILIES = ("table", "task", "column")


class SpecError(BadInputError):
    """A spec file that cannot be used; the message names the file and the offending entry."""


@dataclass(frozen=True)
class CellFormat:
    digits: int = 3
    scale: float = 1.0
    ci: str = "{value} [{lo}, {hi}]"
    seeds: str = "{mean} ± {sd}"
    missing: str = "—"


@dataclass(frozen=True)
class Significance:
    """How the paired tests behind the dagger run.

    `n_boot` / `n_perm` are minimums: each resampling test draws enough replicates that its smallest attainable
    Holm-adjusted p-value is below alpha / `resolution` (leaderboards.significance.replicates_needed), up to
    `max_replicates`; a test that still cannot reach alpha says so. `family` is the set of tests Holm adjusts
    over: every test of the table, those of one task, or those of one column.
    """

    test: str = "paired_bootstrap"
    alpha: float = 0.05
    n_boot: int = 1000
    n_perm: int = 1000
    seed: int = 0
    family: str = "table"
    resolution: float = 10.0
    max_replicates: int = 100_000


@dataclass(frozen=True)
class Column:
    """A leaf column: one number per row."""

    key: str  # unique: "<id>/<mode>" or "<id>/<mode>@<fraction>"
    group: str  # "<id>/<mode>": fraction sub-columns share it
    label: str
    benchmark: str
    task: str
    metric: str
    mode: str
    fraction: float | None = None
    split: str | None = None
    lower_is_better: bool = False
    target: float | None = None  # best is the value closest to it (calibration slope 1, intercept 0)

    @property
    def sub_label(self) -> str:
        return "" if self.fraction is None else f"{self.fraction * 100:g}%"


@dataclass(frozen=True)
class Row:
    id: str
    label: str
    model: str | None = None  # glob matched against the run manifest's model spec / name
    citation: str | None = None
    bibtex_key: str | None = None
    reported: dict[str, Any] = field(default_factory=dict)  # column key -> number or {value, ci95, sd}

    @property
    def kind(self) -> str:
        return "reproduced" if self.model is not None else "reported"

    def matches(self, model_names: list[str]) -> bool:
        return self.model is not None and any(fnmatchcase(name, self.model) for name in model_names)


@dataclass(frozen=True)
class SubgroupSpec:
    """A subgroup table: one spec column's metric per subgroup of each field, for every reproduced model.

    The numbers come from the `subgroups` block of the results files behind that column's cells
    (docs/leaderboards.md, "Subgroup tables")."""

    id: str
    column: str  # a leaf column key of the spec
    label: str
    fields: list[str] | None = None  # None: every field the results carry, in their order
    underdiagnosis: bool = True  # the No Finding FPR table, where the results have one


@dataclass(frozen=True)
class Spec:
    name: str
    title: str
    caption: str
    columns: list[Column]
    rows: list[Row]
    cell_format: CellFormat
    significance: Significance
    best: str  # "all" or "reproduced": which rows compete for bold
    order_by: str | None  # a column key; reproduced rows sorted by it (best first)
    path: str
    sha256: str
    subgroups: list[SubgroupSpec] = field(default_factory=list)

    def column(self, key: str) -> Column:
        for col in self.columns:
            if col.key == key:
                return col
        raise KeyError(key)


def _check_keys(where: str, entry: Any, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(entry, dict):
        raise SpecError(f"{where}: expected a mapping, got {type(entry).__name__}")
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise SpecError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(allowed)}")
    return entry


def _fraction_key(fraction: float) -> str:
    return f"{fraction:g}"


def _expand_column(where: str, entry: dict[str, Any], default_fractions: list[float]) -> list[Column]:
    entry = _check_keys(where, entry, _COLUMN_KEYS)
    for key in ("id", "benchmark", "task", "metric"):
        if not entry.get(key):
            raise SpecError(f"{where}: missing {key!r}")
    if entry["task"] not in TASKS:
        raise SpecError(f"{where}: task {entry['task']!r} is not one of {TASKS}")
    if ("mode" in entry) == ("modes" in entry):
        raise SpecError(f"{where}: give exactly one of 'mode' or 'modes'")
    modes = [entry["mode"]] if "mode" in entry else list(entry["modes"])
    bad = [m for m in modes if m not in MODES]
    if bad:
        raise SpecError(f"{where}: mode(s) {bad} not in {MODES}")
    metric = str(entry["metric"])
    direction = metric_direction(metric)
    lower = bool(entry.get("lower_is_better", direction.lower_is_better))
    target = entry.get("target", direction.target)
    if target is not None and (isinstance(target, bool) or not isinstance(target, int | float)):
        raise SpecError(f"{where}: target must be a number (the ideal value), got {target!r}")
    if target is not None and "lower_is_better" in entry:
        raise SpecError(f"{where}: give either lower_is_better or target (best = closest to it), not both")
    label = str(entry.get("label", f"{entry['benchmark']} {metric}"))
    columns = []
    for mode in modes:
        group = f"{entry['id']}/{mode}"
        common = dict(
            group=group,
            label=f"{label} ({'ZS' if mode == 'zero-shot' else 'FT'})",
            benchmark=str(entry["benchmark"]),
            task=entry["task"],
            metric=metric,
            mode=mode,
            split=entry.get("split"),
            lower_is_better=lower,
            target=None if target is None else float(target),
        )
        if mode == "fine-tune":
            fractions = [float(f) for f in entry.get("fractions", default_fractions)] or [1.0]
            if any(not 0.0 < f <= 1.0 for f in fractions):
                raise SpecError(f"{where}: fractions must lie in (0, 1], got {fractions}")
            columns += [Column(key=f"{group}@{_fraction_key(f)}", fraction=f, **common) for f in fractions]
        else:
            columns.append(Column(key=group, **common))
    return columns


def _parse_row(where: str, entry: dict[str, Any], column_keys: set[str]) -> Row:
    entry = _check_keys(where, entry, _ROW_KEYS)
    if not entry.get("id"):
        raise SpecError(f"{where}: missing 'id'")
    label = str(entry.get("label", entry["id"]))
    if ("model" in entry) == ("reported" in entry):
        raise SpecError(
            f"{where}: a row is either reproduced ('model': runs) or reported ('reported': numbers from a "
            "paper with a citation), exactly one of the two"
        )
    if "model" in entry:
        return Row(id=str(entry["id"]), label=label, model=str(entry["model"]))
    reported = _check_keys(f"{where}.reported", entry["reported"], _REPORTED_KEYS)
    if not reported.get("citation"):
        raise SpecError(f"{where}: reported rows need a 'citation'")
    values: dict[str, Any] = {}
    for group, value in (reported.get("values") or {}).items():
        if isinstance(value, dict) and "value" not in value:  # fine-tune: {fraction: number}
            for fraction, v in value.items():
                values[f"{group}@{_fraction_key(float(fraction))}"] = v
        else:
            values[str(group)] = value
    unknown = sorted(set(values) - column_keys)
    if unknown:
        raise SpecError(f"{where}: reported values for unknown column(s) {unknown}")
    return Row(
        id=str(entry["id"]),
        label=label,
        citation=str(reported["citation"]),
        bibtex_key=reported.get("bibtex_key"),
        reported=values,
    )


def _check_significance(where: str, sig: Significance) -> None:
    if sig.test not in TESTS:
        raise SpecError(f"{where}: significance.test {sig.test!r} is not one of {TESTS}")
    if sig.family not in FAMILIES:
        raise SpecError(f"{where}: significance.family {sig.family!r} is not one of {FAMILIES}")
    if not 0.0 < float(sig.alpha) < 1.0:
        raise SpecError(f"{where}: significance.alpha must lie in (0, 1), got {sig.alpha!r}")
    if float(sig.resolution) < 1.0:
        raise SpecError(f"{where}: significance.resolution must be at least 1, got {sig.resolution!r}")
    name, minimum = (
        ("n_perm", sig.n_perm) if sig.test == "approximate_randomization" else ("n_boot", sig.n_boot)
    )
    if not int(sig.max_replicates) >= max(int(minimum), 1):
        raise SpecError(
            f"{where}: significance.max_replicates ({sig.max_replicates}) is below {name} ({minimum})"
        )


def resolve_spec_path(spec: str | Path) -> Path:
    """A path, or the name of a shipped spec (`demo`, `imt-cxr`, `classification`, ...)."""
    path = Path(spec)
    if path.is_file():
        return path
    shipped = SPEC_DIR / f"{spec}.yaml"
    if shipped.is_file():
        return shipped
    names = sorted(p.stem for p in SPEC_DIR.glob("*.yaml"))
    raise FileNotFoundError(f"spec {spec!r} is neither a file nor a shipped spec ({', '.join(names)})")


def load_spec(spec: str | Path) -> Spec:
    path = resolve_spec_path(spec)
    raw_bytes = path.read_bytes()
    try:
        raw = yaml.safe_load(raw_bytes)
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: not valid YAML: {exc}") from None
    raw = _check_keys(str(path), raw, _TOP_KEYS)
    default_fractions = [float(f) for f in raw.get("fractions", [1.0])]
    columns: list[Column] = []
    for i, entry in enumerate(raw.get("columns") or []):
        columns += _expand_column(f"{path}: columns[{i}]", entry, default_fractions)
    if not columns:
        raise SpecError(f"{path}: no columns")
    keys = [c.key for c in columns]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise SpecError(f"{path}: duplicate column id(s) {duplicates}")
    rows = [_parse_row(f"{path}: rows[{i}]", e, set(keys)) for i, e in enumerate(raw.get("rows") or [])]
    row_ids = [r.id for r in rows]
    if len(set(row_ids)) != len(row_ids):
        raise SpecError(f"{path}: duplicate row ids")
    fmt = CellFormat(**_check_keys(f"{path}: format", raw.get("format") or {}, _FORMAT_KEYS))
    sig = Significance(
        **_check_keys(f"{path}: significance", raw.get("significance") or {}, _SIGNIFICANCE_KEYS)
    )
    _check_significance(str(path), sig)
    best = str(raw.get("best", "all"))
    if best not in ("all", "reproduced"):
        raise SpecError(f"{path}: best must be 'all' or 'reproduced'")
    order = raw.get("order", "listed")
    order_by = None
    if order != "listed":
        order_by = str(_check_keys(f"{path}: order", order, {"by"}).get("by"))
        if order_by not in keys:
            raise SpecError(f"{path}: order.by {order_by!r} is not a column key ({keys})")
    subgroups = parse_subgroups(str(path), raw.get("subgroups"), columns)
    return Spec(
        name=str(raw.get("name", path.stem)),
        title=str(raw.get("title", path.stem)),
        caption=str(raw.get("caption", "")),
        columns=columns,
        rows=rows,
        cell_format=fmt,
        significance=sig,
        best=best,
        order_by=order_by,
        path=str(path),
        sha256=hashlib.sha256(raw_bytes).hexdigest(),
        subgroups=subgroups,
    )


_SUBGROUP_KEYS = {"id", "column", "label", "fields", "underdiagnosis"}


def parse_subgroups(where: str, entries: Any, columns: list[Column]) -> list[SubgroupSpec]:
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise SpecError(f"{where}: subgroups must be a list of subgroup tables, got {type(entries).__name__}")
    keys = [c.key for c in columns]
    out: list[SubgroupSpec] = []
    for i, entry in enumerate(entries):
        at = f"{where}: subgroups[{i}]"
        entry = _check_keys(at, entry, _SUBGROUP_KEYS)
        for key in ("id", "column"):
            if not entry.get(key):
                raise SpecError(f"{at}: missing {key!r}")
        if entry["column"] not in keys:
            raise SpecError(f"{at}: column {entry['column']!r} is not a leaf column key ({', '.join(keys)})")
        fields = entry.get("fields")
        if fields is not None and (
            not isinstance(fields, list) or not fields or not all(isinstance(f, str) and f for f in fields)
        ):
            raise SpecError(f"{at}: fields must be a non-empty list of meta field names, got {fields!r}")
        underdiagnosis = entry.get("underdiagnosis", True)
        if not isinstance(underdiagnosis, bool):
            raise SpecError(f"{at}: underdiagnosis must be true or false, got {underdiagnosis!r}")
        column = next(c for c in columns if c.key == entry["column"])
        out.append(
            SubgroupSpec(
                id=str(entry["id"]),
                column=column.key,
                label=str(entry.get("label", column.label)),
                fields=None if fields is None else [str(f) for f in fields],
                underdiagnosis=underdiagnosis,
            )
        )
    ids = [s.id for s in out]
    if len(set(ids)) != len(ids):
        raise SpecError(
            f"{where}: duplicate subgroup table ids {sorted({i for i in ids if ids.count(i) > 1})}"
        )
    return out


def shipped_specs() -> list[str]:
    return sorted(p.stem for p in SPEC_DIR.glob("*.yaml"))
