"""Subgroup tables: a spec column's metric per subgroup (sex, age group, view, ...) for every reproduced model,
read from the `subgroups` block of the results files behind that column's cells (the contract in
docs/leaderboards.md, "Subgroup tables"), plus the underdiagnosis (No Finding FPR) table where the results have it.

Nothing is recomputed here: values, CIs, gaps to overall and Holm-adjusted p-values are the results file's; the
table adds the significance marker (p_holm < the spec's alpha) and checks that every model's groups are the same
cases (equal n), as the main table checks one ground truth per column.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.errors import BadInputError
from leaderboards.conventions import _compact
from leaderboards.model import Cell, SubgroupCell, SubgroupTable
from leaderboards.results_cache import ResultsCache, metric_from_results
from leaderboards.specs import Row, Spec, SubgroupSpec

UNDEFINED = "undefined in this group (null in the results, e.g. a single class)"
NOT_SCORED = "its results have no subgroups (scored without --subgroups)"


class SubgroupMismatchError(BadInputError):
    """Models of one subgroup table whose groups are not the same cases: their numbers cannot sit side by side."""


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _interval(ci: Any) -> list[float] | None:
    if not ci or ci[0] is None or ci[1] is None:
        return None
    return [float(ci[0]), float(ci[1])]


def _group_metric(group: dict[str, Any], metric: str) -> tuple[Any, Any, str]:
    """(value, ci, path inside the group) of a metric name or `stat/label` (per_label, no CI)."""
    if metric in group.get("metrics", {}):
        entry = group["metrics"][metric] or {}
        return entry.get("value"), entry.get("ci"), f"metrics.{metric}"
    stat, _, label = metric.partition("/")
    per_label = (group.get("per_label") or {}).get(stat) or {}
    if label and label in per_label:
        entry = per_label[label]
        if isinstance(entry, dict):
            return entry.get("value"), entry.get("ci"), f"per_label.{stat}.{label}"
        return entry, None, f"per_label.{stat}.{label}"
    return None, None, f"metrics.{metric}"


def _sources(
    sg: SubgroupSpec, rows: list[Row], cells: dict[tuple[str, str], Cell], cache: ResultsCache
) -> tuple[list[tuple[str, dict[str, Any]]], list[list[str]]]:
    """(row id, results) of the models with subgroup numbers; [row id, why] of the reproduced rows without."""
    shown, left_out = [], []
    for row in rows:
        if row.kind != "reproduced":
            continue
        cell = cells[(row.id, sg.column)]
        if len(cell.sources) > 1:
            left_out.append(
                [row.id, f"seed-averaged over {len(cell.sources)} runs: subgroups are shown per run"]
            )
            continue
        loaded = cache.get(Path(cell.sources[0].results)) if cell.sources else None
        if loaded is None:
            left_out.append([row.id, cell.reason or "no results file"])
            continue
        if not loaded[0].get("subgroups"):
            left_out.append([row.id, f"{Path(cell.sources[0].results).name}: {NOT_SCORED}"])
            continue
        shown.append((row.id, loaded[0]))
    return shown, left_out


def _fields(sg: SubgroupSpec, shown: list[tuple[str, dict[str, Any]]]) -> list[str]:
    if sg.fields is not None:
        return list(sg.fields)
    fields: list[str] = []
    for _, results in shown:
        sub = results["subgroups"]
        for name in sub.get("conventions", {}).get("fields") or list(sub.get("fields", {})):
            if name not in fields:
                fields.append(name)
    return fields


def _group_order(field: str, shown: list[tuple[str, dict[str, Any]]], key: str) -> list[str]:
    values: list[str] = []
    for _, results in shown:
        block = results["subgroups"].get("fields", {}).get(field) or {}
        if key == "underdiagnosis":
            block = block.get("underdiagnosis") or {}
        for group in block.get("groups", []):
            if str(group["value"]) not in values:
                values.append(str(group["value"]))
    return values


def _metric_cells(
    field: str, metric: str, alpha: float, row: str, results: dict[str, Any], order: list[str]
) -> list[SubgroupCell]:
    value, ci, path, reason = metric_from_results(results, metric)
    out = [SubgroupCell(row, field, "All", "overall", n=results.get("n"), value=value, ci95=ci,
                        reason=reason, path=path)]  # fmt: skip
    block = results["subgroups"].get("fields", {}).get(field)
    groups = {str(g["value"]): (i, g) for i, g in enumerate((block or {}).get("groups", []))}
    for name in order:
        cell = SubgroupCell(row, field, name, "group")
        if block is None:
            cell.reason = f"field {field!r} is not in this run's subgroups"
        elif name not in groups:
            cell.reason = f"no group {name!r} in this run"
        else:
            i, group = groups[name]
            raw, raw_ci, inner = _group_metric(group, metric)
            cell.path = f"subgroups.fields.{field}.groups[{i}].{inner}"
            cell.n, cell.small = group.get("n"), bool(group.get("small", False))
            cell.value, cell.ci95 = _number(raw), _interval(raw_ci)
            gap = (group.get("gap_to_overall") or {}).get(metric) or {}
            cell.gap, cell.gap_ci95 = _number(gap.get("value")), _interval(gap.get("ci"))
            cell.p_value, cell.p_holm = _number(gap.get("p")), _number(gap.get("p_holm"))
            cell.significant = cell.p_holm is not None and cell.p_holm < alpha
            if cell.value is None:
                cell.reason = UNDEFINED
        out.append(cell)
    return out


def _fpr_cells(
    field: str, alpha: float, row: str, results: dict[str, Any], order: list[str], pairs: list[str]
) -> list[SubgroupCell]:
    block = (results["subgroups"].get("fields", {}).get(field) or {}).get("underdiagnosis")
    base = f"subgroups.fields.{field}.underdiagnosis"
    groups = {str(g["value"]): (i, g) for i, g in enumerate((block or {}).get("groups", []))}
    out = []
    for name in order:
        cell = SubgroupCell(row, field, name, "fpr")
        if name not in groups:
            cell.reason = "no underdiagnosis FPR for this group in this run"
        else:
            i, group = groups[name]
            cell.path = f"{base}.groups[{i}].fpr"
            cell.n = group.get("n_with_finding")
            cell.value, cell.ci95 = _number(group.get("fpr")), _interval(group.get("ci"))
            cell.reason = None if cell.value is not None else UNDEFINED
        out.append(cell)
    found = {f"{p['a']} − {p['b']}": (i, p) for i, p in enumerate((block or {}).get("pairwise", []))}
    for name in pairs:
        cell = SubgroupCell(row, field, name, "fpr_gap")
        if name not in found:
            cell.reason = "no such difference in this run"
        else:
            i, pair = found[name]
            cell.path = f"{base}.pairwise[{i}].gap"
            cell.value, cell.ci95 = _number(pair.get("gap")), _interval(pair.get("ci"))
            cell.p_value, cell.p_holm = _number(pair.get("p")), _number(pair.get("p_holm"))
            cell.significant = cell.p_holm is not None and cell.p_holm < alpha
            cell.reason = None if cell.value is not None else UNDEFINED
        out.append(cell)
    return out


def _pair_order(field: str, shown: list[tuple[str, dict[str, Any]]]) -> list[str]:
    names: list[str] = []
    for _, results in shown:
        block = (results["subgroups"].get("fields", {}).get(field) or {}).get("underdiagnosis") or {}
        for pair in block.get("pairwise", []):
            if f"{pair['a']} − {pair['b']}" not in names:
                names.append(f"{pair['a']} − {pair['b']}")
    return names


def _check_same_groups(sg: SubgroupSpec, cells: list[SubgroupCell], rows: dict[str, str]) -> None:
    seen: dict[tuple[str, str, str], tuple[int, str]] = {}
    for cell in cells:
        if cell.n is None or cell.kind in ("overall", "fpr_gap"):
            continue
        key = (cell.kind, cell.field, cell.group)
        if key in seen and seen[key][0] != cell.n:
            n, other = seen[key]
            raise SubgroupMismatchError(
                f"subgroup table {sg.id}: group {cell.field}={cell.group} has n = {n} for {rows[other]} but "
                f"n = {cell.n} for {rows[cell.row]}; score every model with the same --subgroups settings on the "
                "same ground truth"
            )
        seen.setdefault(key, (cell.n, cell.row))


def subgroup_footnote(metric: str, results: dict[str, Any], fields: list[str]) -> str:
    """ "subgroups · metric — part; part; ..." from the results' subgroup conventions (the convention footnote of
    the main table, for the subgroup analysis): field-specific entries only for the fields shown."""
    sub = results["subgroups"]
    conventions = dict(sub.get("conventions") or {})
    every_field = set(conventions.pop("fields", None) or []) | set(sub.get("fields", {}))
    replicates, seed = conventions.pop("bootstrap_replicates", None), conventions.pop("seed", None)
    level = conventions.pop("ci_level", 0.95)
    cluster = conventions.pop("cluster", None) or "image"
    parts = [f"{key}: {_compact(value)}" for key, value in conventions.items()
             if key not in every_field or key in fields]  # fmt: skip
    parts.append(
        f"{level * 100:g} % CI: bootstrap over {cluster}s, {replicates} replicates, seed {seed}"
        if replicates
        else "no bootstrap CI"
    )
    for field in fields:
        block = (sub.get("fields", {}).get(field) or {}).get("underdiagnosis")
        if block:
            parts.append(f"underdiagnosis: {block.get('definition')}, threshold {block.get('threshold')}")
            break
    return f"subgroups · {metric} — " + "; ".join(parts)


def build_subgroup_table(
    sg: SubgroupSpec, spec: Spec, rows: list[Row], cells: dict[tuple[str, str], Cell], cache: ResultsCache
) -> SubgroupTable:
    col = spec.column(sg.column)
    alpha = spec.significance.alpha
    shown, left_out = _sources(sg, rows, cells, cache)
    fields = _fields(sg, shown)
    out: list[SubgroupCell] = []
    underdiagnosis: dict[str, Any] = {}
    for field in fields:
        order = _group_order(field, shown, "groups")
        for row, results in shown:
            out += _metric_cells(field, col.metric, alpha, row, results, order)
        fpr_order = _group_order(field, shown, "underdiagnosis") if sg.underdiagnosis else []
        if fpr_order:
            pairs = _pair_order(field, shown)
            for row, results in shown:
                out += _fpr_cells(field, alpha, row, results, fpr_order, pairs)
                block = (results["subgroups"].get("fields", {}).get(field) or {}).get("underdiagnosis")
                if block and field not in underdiagnosis:
                    underdiagnosis[field] = {k: block.get(k) for k in ("label", "threshold", "definition")}
    labels = {r.id: r.label for r in rows}
    _check_same_groups(sg, out, labels)
    notes: list[str] = []
    for _, results in shown:
        text = subgroup_footnote(col.metric, results, fields)
        if text not in notes:
            notes.append(text)
    if len(notes) > 1:
        notes = ["CONVENTIONS DIFFER BETWEEN ROWS: " + " | ".join(notes)]
    return SubgroupTable(
        id=sg.id,
        label=sg.label,
        column=col.key,
        metric=col.metric,
        fields=fields,
        rows=[row for row, _ in shown],
        left_out=left_out,
        cells=out,
        footnotes=notes,
        underdiagnosis=underdiagnosis,
    )


def build_subgroup_tables(
    spec: Spec, rows: list[Row], cells: dict[tuple[str, str], Cell], cache: ResultsCache
) -> list[SubgroupTable]:
    return [build_subgroup_table(sg, spec, rows, cells, cache) for sg in spec.subgroups]
