"""Significance markers: each reproduced cell is tested against the next reproduced row down that has a value
in the same column (paired test on both runs' predictions against the same ground truth), Holm-adjusted within
the spec's family (every test of the table, of one task, or of one column).

A resampling test's p-value has a floor: 2 / (B + 1) for the paired bootstrap, 1 / (P + 1) for approximate
randomization. Holm multiplies the smallest p of a family of m tests by m, so with a fixed B a large enough table
can never show a dagger. Each family therefore draws `replicates_needed(m)` replicates, enough that the smallest
attainable adjusted p is below alpha / resolution; a test that still cannot reach alpha (replicate cap, non-finite
replicates) carries the reason in cells.json and the significance footnote.
"""

from __future__ import annotations

import math
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.run.compare import PAIRED_CALIBRATION
from leaderboards.directions import is_calibration_metric
from leaderboards.model import Cell, SignificanceTest
from leaderboards.specs import Column, Row, Significance, Spec

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
# Not tested in tables: METEOR 1.5 is a corpus score of a Java process (the jar per replicate), and tables do not yet
# hand compare the BERTScore model that BERTScore and RadCliQ-v1 need. NLTK's METEOR is a mean of per-report scores
# that compare re-averages.
NOT_RESAMPLED_PREFIXES = ("meteor", "bertscore", "radcliq")
RESAMPLED_ANYWAY = ("meteor_nltk",)


def replicates_needed(m: int, sig: Significance, permutation: bool = False) -> int:
    """Replicates (permutations) for a family of m tests: the smallest B for which m times the p-value floor,
    m * 2 / (B + 1) (m / (P + 1) for permutations), is below alpha / resolution; never fewer than the spec's
    n_boot / n_perm, never more than max_replicates."""
    minimum = sig.n_perm if permutation else sig.n_boot
    bound = sig.alpha / sig.resolution
    family = max(m, 1)
    replicates = max(1, math.floor((1 if permutation else 2) * family / bound) - 2)
    while family * p_floor(replicates, permutation) >= bound:  # float arithmetic exactly as Holm will see it
        replicates += 1
    return int(min(max(minimum, replicates), sig.max_replicates))


def p_floor(replicates: int, permutation: bool = False) -> float:
    """The smallest p-value a resampling test with this many (finite) replicates returns, computed as
    bench.metrics.significance computes it: every replicate on one side of zero (bootstrap) or none as extreme
    as the observed difference (permutations)."""
    if replicates <= 0:
        return 1.0
    single = 1 / (replicates + 1)
    return single if permutation else min(1.0, 2.0 * single)


def family_name(spec: Spec, col: Column) -> str:
    if spec.significance.family == "column":
        return f"column {col.key}"
    if spec.significance.family == "task":
        return f"task {col.task}"
    return "table"


@dataclass
class PlannedTest:
    col: Column
    cell: Cell
    test: SignificanceTest
    results_a: dict[str, Any]
    results_b: dict[str, Any]
    run_a: Path
    run_b: Path

    @property
    def analytic(self) -> bool:
        return self.col.task == "classification" and self.col.metric.startswith("auc/")


def _provenance(results: dict[str, Any]) -> tuple[str | None, str | None]:
    provenance = results.get("provenance", {})
    return provenance.get("inputs", {}).get("gt", {}).get("sha256"), provenance.get("ids_sha256")


def _blocked_reason(
    col: Column, a: Cell, b: Cell, results_a: dict[str, Any], results_b: dict[str, Any]
) -> str | None:
    if len(a.sources) != 1 or len(b.sources) != 1:
        return "seed-averaged cells are not tested (mean ± sd over seeds is shown instead)"
    if is_calibration_metric(col.metric) and col.metric not in PAIRED_CALIBRATION:
        return (
            f"{col.metric} is not tested: calibration slope and intercept are best closest to their ideal value, "
            f"so a paired A - B difference would not say which is better (bench.run.compare tests "
            f"{' and '.join(PAIRED_CALIBRATION)})"
        )
    if (
        col.task == "report"
        and col.metric.startswith(NOT_RESAMPLED_PREFIXES)
        and col.metric not in RESAMPLED_ANYWAY
    ):
        return (
            f"{col.metric} is not tested (METEOR needs Java per replicate; tables do not yet hand compare the "
            "BERTScore model that BERTScore and RadCliQ-v1 need)"
        )
    gt_a, gt_b = _provenance(results_a), _provenance(results_b)
    if None in gt_a or None in gt_b:
        return (
            "a results file records no ground-truth provenance (written by an older cxrbench); no paired test"
        )
    if gt_a != gt_b:
        return "the two runs were scored on different ground truth; no paired test"
    return None


def plan_tests(
    spec: Spec, rows: list[Row], cells: dict[tuple[str, str], Cell], cache: Any
) -> list[PlannedTest]:
    """Every adjacent pair of each column; untestable ones get their SignificanceTest with the reason now."""
    planned: list[PlannedTest] = []
    reproduced = [r for r in rows if r.kind == "reproduced"]
    for col in spec.columns:
        with_value = [cells[(r.id, col.key)] for r in reproduced if cells[(r.id, col.key)].value is not None]
        for a, b in zip(with_value, with_value[1:], strict=False):
            results_a, results_b = (cache.get(Path(c.sources[0].results))[0] for c in (a, b))
            a.test = SignificanceTest(against_row=b.row, method=spec.significance.test, p_value=None)
            reason = _blocked_reason(col, a, b, results_a, results_b)
            if reason is not None:
                a.test.reason = reason
                continue
            a.test.family = family_name(spec, col)
            planned.append(
                PlannedTest(
                    col,
                    a,
                    a.test,
                    results_a,
                    results_b,
                    Path(a.sources[0].run_dir),
                    Path(b.sources[0].run_dir),
                )
            )
    return planned


def _cluster_unit(settings: dict[str, Any]) -> str:
    """The unit the results' CIs were computed at; results from before cluster units resampled images."""
    return settings.get("cluster") or "image"


def _inputs(results: dict[str, Any], run_dir: Path) -> tuple[Path, Path]:
    inputs = results["provenance"]["inputs"]
    return run_dir / inputs["gt"]["path"], run_dir / inputs["pred"]["path"]


def _auc_p(col: Column, gt: Path, pred_a: Path, pred_b: Path, settings: dict[str, Any]) -> float:
    """Per-label paired AUC test at the results' cluster unit (DeLong for images, Obuchowski for clusters)."""
    from bench.run.align import align, classification_arrays
    from bench.run.compare import paired_auc_test
    from bench.run.scoring import resolve_cluster
    from bench.run.study_level import to_study_level

    label = col.metric.partition("/")[2]
    data, other = align("classification", gt, pred_a), align("classification", gt, pred_b)
    if settings.get("level") == "study":
        aggregate = settings.get("study_aggregate", "max")
        data, other = to_study_level(data, aggregate), to_study_level(other, aggregate)
    y, s_a, names = classification_arrays(data, settings.get("labels"))
    _, s_b, _ = classification_arrays(other, names)
    j = names.index(label)
    clusters = resolve_cluster(data, _cluster_unit(settings)).clusters
    return paired_auc_test(y[:, j], s_a[:, j], s_b[:, j], clusters)[4]


def comparison_name(col: Column, row_a: str, row_b: str) -> str:
    return _UNSAFE.sub("_", f"{col.key}__{row_a}__vs__{row_b}") + ".json"


def run_test(
    spec: Any,
    col: Column,
    a: Cell,
    b: Cell,
    results_a: dict[str, Any],
    results_b: dict[str, Any],
    out: Path | None,
) -> SignificanceTest:
    """One paired test of a against b with the spec's n_boot / n_perm as they are (`mark_significance` sizes the
    replicates to the Holm family instead)."""
    test = SignificanceTest(against_row=b.row, method=spec.significance.test, p_value=None)
    test.reason = _blocked_reason(col, a, b, results_a, results_b)
    if test.reason is not None:
        return test
    runs = Path(a.sources[0].run_dir), Path(b.sources[0].run_dir)
    plan = PlannedTest(col, a, test, results_a, results_b, *runs)
    sig = spec.significance
    run_planned(spec, plan, sig.n_perm if sig.test == "approximate_randomization" else sig.n_boot, out)
    return test


def run_planned(spec: Any, plan: PlannedTest, replicates: int, out: Path | None) -> None:
    """Fill plan.test: p-value, method, replicates drawn and the floor of its p-value."""
    from bench.run.compare import compare_files

    test, col, sig = plan.test, plan.col, spec.significance
    gt, pred_a = _inputs(plan.results_a, plan.run_a)
    _, pred_b = _inputs(plan.results_b, plan.run_b)
    settings = plan.results_a.get("settings", {})
    unit = _cluster_unit(settings)
    if plan.analytic:
        test.method = (
            "DeLong paired test (fast DeLong, Sun & Xu 2014)"
            if unit == "image"
            else f"Obuchowski clustered paired AUC test (Biometrics 1997), {unit} clusters"
        )
        try:
            p = _auc_p(col, gt, pred_a, pred_b, settings)
        except (ValueError, KeyError) as exc:
            test.reason = f"not testable: {exc}"
            return
        test.p_value = None if p != p else float(p)
        test.p_floor = 0.0
        if test.p_value is None:
            test.reason = "p-value undefined (the AUC difference has no variance estimate)"
        return
    permutation = sig.test == "approximate_randomization"
    name = comparison_name(col, plan.cell.row, test.against_row)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) if out is None else out / "comparisons"
        folder.mkdir(parents=True, exist_ok=True)
        try:
            result = compare_files(
                col.task,
                gt,
                pred_a,
                pred_b,
                folder / name,
                metrics=[col.metric],
                n_boot=0 if permutation else replicates,
                n_perm=replicates if permutation else 0,
                seed=sig.seed,
                labels=settings.get("labels"),
                froc_hit=settings.get("froc_hit", "center_in_box"),
                empty_rule=settings.get("empty_rule", "exclude"),
                ce_labelset=settings.get("ce_labelset", "chexpert"),
                cluster=unit,
                level=settings.get("level", "image"),  # results written before study level were image level
                study_aggregate=settings.get("study_aggregate", "max"),
                chexbert=settings.get("chexbert"),
                chexbert_tokenizer=settings.get("chexbert_tokenizer"),
                chexbert_batch_size=settings.get("chexbert_batch_size", 32),
                radgraph=settings.get("radgraph"),
            )
        except (ValueError, KeyError) as exc:
            test.reason = f"not testable: {exc}"
            return
    if out is not None:
        test.comparison_file = f"comparisons/{name}"
    entry = result["comparisons"][col.metric]
    test.replicates = replicates
    if permutation:
        swapped = "" if unit == "image" else f" (whole {unit} clusters swapped)"
        test.method = f"approximate randomization{swapped}, {replicates} permutations, seed {sig.seed}"
        test.p_value = entry["approximate_randomization"]["p_value"]
        test.p_floor = p_floor(replicates, permutation=True)
    else:
        drawn = "case" if unit == "image" else unit
        test.method = f"paired {drawn} bootstrap, {replicates} replicates, seed {sig.seed}"
        test.p_value = entry["paired_bootstrap"]["p_value"]
        test.p_floor = p_floor(entry["paired_bootstrap"].get("n_finite_replicates", replicates))
    if test.p_value is None:
        test.reason = "p-value undefined (no finite replicate)"


def _families(planned: list[PlannedTest]) -> dict[str, list[PlannedTest]]:
    families: dict[str, list[PlannedTest]] = {}
    for plan in planned:
        families.setdefault(plan.test.family or "table", []).append(plan)
    return families


def mark_significance(
    spec: Spec, rows: list[Row], cells: dict[tuple[str, str], Cell], cache: Any, out: Path | None
) -> None:
    from bench.metrics.significance import holm

    if spec.significance.test == "none":
        return
    sig = spec.significance
    permutation = sig.test == "approximate_randomization"
    for family, members in _families(plan_tests(spec, rows, cells, cache)).items():
        replicates = replicates_needed(len(members), sig, permutation)
        capped = replicates < replicates_needed(len(members), _uncapped(sig), permutation)
        for plan in members:
            run_planned(spec, plan, replicates, out)
        tested = [p.test for p in members if p.test.p_value is not None]
        for test, p_holm in zip(
            tested, holm([t.p_value for t in tested if t.p_value is not None]), strict=True
        ):
            test.p_holm = float(p_holm)
            test.family_size = len(tested)
            test.min_adjusted_p = min(1.0, len(tested) * (test.p_floor or 0.0))
            if test.min_adjusted_p >= sig.alpha:
                test.reason = _unreachable(test, family, sig, replicates, capped)
    for cell in cells.values():
        cell.significant = bool(
            cell.test is not None and cell.test.p_holm is not None and cell.test.p_holm < sig.alpha
        )


def _uncapped(sig: Significance) -> Significance:
    from dataclasses import replace

    return replace(sig, max_replicates=2**62)


def _unreachable(
    test: SignificanceTest, family: str, sig: Significance, replicates: int, capped: bool
) -> str:
    why = f" (capped by significance.max_replicates = {sig.max_replicates})" if capped else ""
    return (
        f"cannot reach alpha = {sig.alpha:g}: with {replicates} replicates{why} the smallest p this test can give "
        f"is {test.p_floor:.3g}, times {test.family_size} tests in its Holm family ({family}) = "
        f"{test.min_adjusted_p:.3g}"
    )
