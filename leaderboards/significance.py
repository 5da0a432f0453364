"""Significance markers: each reproduced cell is tested against the next reproduced row down that has a value
in the same column (paired test on both runs' predictions against the same ground truth), Holm across the table.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

from leaderboards.model import Cell, SignificanceTest
from leaderboards.specs import Column, Row, Spec

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _inputs(source_results: dict[str, Any], run_dir: Path) -> tuple[Path, Path, str, str]:
    inputs = source_results["provenance"]["inputs"]
    return (
        run_dir / inputs["gt"]["path"],
        run_dir / inputs["pred"]["path"],
        inputs["gt"]["sha256"],
        source_results["provenance"]["ids_sha256"],
    )


def _cluster_unit(settings: dict[str, Any]) -> str:
    """The unit the results' CIs were computed at; results from before cluster units resampled images."""
    return settings.get("cluster") or "image"


def _auc_p(col: Column, gt: Path, pred_a: Path, pred_b: Path, settings: dict[str, Any]) -> float:
    """Per-label paired AUC test at the results' cluster unit (DeLong for images, Obuchowski for clusters)."""
    from bench.run.align import align, classification_arrays
    from bench.run.compare import paired_auc_test
    from bench.run.score import resolve_cluster

    label = col.metric.partition("/")[2]
    from bench.run.study_level import to_study_level

    data, other = align("classification", gt, pred_a), align("classification", gt, pred_b)
    if settings.get("level") == "study":
        aggregate = settings.get("study_aggregate", "max")
        data, other = to_study_level(data, aggregate), to_study_level(other, aggregate)
    y, s_a, names = classification_arrays(data, settings.get("labels"))
    _, s_b, _ = classification_arrays(other, names)
    j = names.index(label)
    clusters = resolve_cluster(data, _cluster_unit(settings)).clusters
    return paired_auc_test(y[:, j], s_a[:, j], s_b[:, j], clusters)[4]


def run_test(
    spec: Spec,
    col: Column,
    a: Cell,
    b: Cell,
    results_a: dict[str, Any],
    results_b: dict[str, Any],
    out: Path | None,
) -> SignificanceTest:
    from bench.run.compare import compare_files

    test = SignificanceTest(against_row=b.row, method=spec.significance.test, p_value=None)
    if len(a.sources) != 1 or len(b.sources) != 1:
        test.reason = "seed-averaged cells are not tested (mean ± sd over seeds is shown instead)"
        return test
    gt, pred_a, gt_sha_a, ids_a = _inputs(results_a, Path(a.sources[0].run_dir))
    _, pred_b, gt_sha_b, ids_b = _inputs(results_b, Path(b.sources[0].run_dir))
    if gt_sha_a != gt_sha_b or ids_a != ids_b:
        test.reason = "the two runs were scored on different ground truth; no paired test"
        return test
    settings = results_a.get("settings", {})
    sig = spec.significance
    scratch: tempfile.TemporaryDirectory[str] | None = None
    try:
        unit = _cluster_unit(settings)
        if col.task == "classification" and col.metric.startswith("auc/"):  # per-label AUC: its analytic test
            test.method = (
                "DeLong paired test (fast DeLong, Sun & Xu 2014)"
                if unit == "image"
                else f"Obuchowski clustered paired AUC test (Biometrics 1997), {unit} clusters"
            )
            p = _auc_p(col, gt, pred_a, pred_b, settings)
            test.p_value = None if p != p else float(p)
            return test
        use_bootstrap = sig.test != "approximate_randomization"
        name = _UNSAFE.sub("_", f"{col.key}__{a.row}__vs__{b.row}") + ".json"
        if out is None:
            scratch = tempfile.TemporaryDirectory()
        folder = Path(scratch.name) if scratch is not None else out / "comparisons"  # type: ignore[operator]
        folder.mkdir(parents=True, exist_ok=True)
        if scratch is None:
            test.comparison_file = f"comparisons/{name}"
        result = compare_files(
            col.task,
            gt,
            pred_a,
            pred_b,
            folder / name,
            metrics=[col.metric],
            n_boot=sig.n_boot if use_bootstrap else 0,
            n_perm=0 if use_bootstrap else sig.n_perm,
            seed=sig.seed,
            labels=settings.get("labels"),
            froc_hit=settings.get("froc_hit", "center_in_box"),
            empty_rule=settings.get("empty_rule", "exclude"),
            ce_labelset=settings.get("ce_labelset", "chexpert"),
            cluster=unit,
            level=settings.get("level", "image"),  # results written before study level were image level
            study_aggregate=settings.get("study_aggregate", "max"),
        )
    except (ValueError, KeyError) as exc:
        test.reason = f"not testable: {exc}"
        return test
    finally:
        if scratch is not None:
            scratch.cleanup()
    entry = result["comparisons"][col.metric]
    if use_bootstrap:
        drawn = "case" if unit == "image" else unit
        test.method = f"paired {drawn} bootstrap, {sig.n_boot} replicates, seed {sig.seed}"
        test.p_value = entry["paired_bootstrap"]["p_value"]
    else:
        swapped = "" if unit == "image" else f" (whole {unit} clusters swapped)"
        test.method = f"approximate randomization{swapped}, {sig.n_perm} permutations, seed {sig.seed}"
        test.p_value = entry["approximate_randomization"]["p_value"]
    if test.p_value is None:
        test.reason = "p-value undefined (no finite replicate)"
    return test


def mark_significance(
    spec: Spec, rows: list[Row], cells: dict[tuple[str, str], Cell], cache: Any, out: Path | None
) -> None:
    from bench.metrics.significance import holm

    if spec.significance.test == "none":
        return
    tested: list[SignificanceTest] = []
    reproduced = [r for r in rows if r.kind == "reproduced"]
    for col in spec.columns:
        with_value = [cells[(r.id, col.key)] for r in reproduced if cells[(r.id, col.key)].value is not None]
        for a, b in zip(with_value, with_value[1:], strict=False):
            results = [cache.get(Path(c.sources[0].results))[0] for c in (a, b)]
            a.test = run_test(spec, col, a, b, results[0], results[1], out)
            if a.test.p_value is not None:
                tested.append(a.test)
    adjusted = holm([t.p_value for t in tested]) if tested else []
    for test, p_holm in zip(tested, adjusted, strict=True):
        test.p_holm = float(p_holm)
    for cell in cells.values():
        if cell.test is not None and cell.test.p_holm is not None:
            cell.significant = cell.test.p_holm < spec.significance.alpha
