"""`consistency` task: one model's classification, boxes and masks against its own report.

Reads run directories, groups them by (model, dataset, split, mode, fraction, seed), merges each group's predictions
by image id (a RUN_DIR whose predictions carry several tasks, or several RUN_DIRs of the same model on the same
images), scores with `bench.metrics.consistency` and writes a results-shaped `consistency.json` plus a Markdown
table `consistency.md` (several groups: one sub-folder per group and one combined table).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.datasets.vocabulary import NIH_CHESTXRAY14
from bench.errors import report
from bench.metrics import consistency as cm
from bench.metrics.bootstrap import bootstrap_counts, percentile_ci
from bench.metrics.labeler import LABELER_VERSION, LABELSETS, label_reports
from bench.metrics.segmentation import decode_mask
from bench.metrics.types import MetricValue, TaskResult
from bench.records import Record, atomic_write_text, read_records
from bench.run.provenance import file_provenance, sha256_text_lines
from leaderboards.runs import GT_FILE, PRED_FILE, RunDirError, RunInfo, discover_runs

CHEXPERT_LABELS = LABELSETS["chexpert"]
HEART, LUNGS = "heart", ("right lung", "left lung")
METRIC_ORDER = (
    "label_agreement_micro",
    "label_kappa_micro",
    "label_kappa_macro",
    "laterality_agreement",
    "zone_agreement",
    "ctr_agreement",
    "ctr_kappa",
)

CONVENTIONS: dict[str, Any] = {
    "labels": "classification score >= 0.5 is positive; report labels from the CE labeler "
    f"({LABELER_VERSION}, CheXpert label set), positive iff 1 (uncertain and not mentioned are negative)",
    "label_names": "classification labels mapped to CheXpert names through the cxrbench vocabulary "
    "(NIH names first mapped to vocabulary names); labels with no CheXpert equivalent are skipped",
    "kappa": "Cohen's kappa (sklearn.metrics.cohen_kappa_score); micro = all image x label pairs pooled",
    "laterality": "box centre in the image's left half = patient right (PA/AP display); the report's sides "
    "are read in sentences mentioning the finding (not negated); bilateral/both = both sides; agreement = "
    "set of box sides equals the stated set, over (image, box label) pairs whose report states a side",
    "zone": "upper / middle / lower third of the image by box centre; words upper|apical|apex, mid|middle, "
    "lower|basal|base; agreement = some box lies in a stated zone, over pairs whose report states a zone",
    "ctr": "cardiothoracic ratio = column extent of the predicted heart mask / column extent of the union of "
    f"the predicted lung masks; CTR > {cm.CTR_THRESHOLD} vs the report's Cardiomegaly label (positive iff 1)",
    "bootstrap": "whole clusters resampled (settings.cluster: patients, studies or images, as `cxrbench score` "
    "chooses them; bench.metrics.bootstrap.bootstrap_counts), corpus value recomputed",
}


@dataclass
class ModelRuns:
    key: tuple[str, ...]
    runs: list[RunInfo]

    @property
    def slug(self) -> str:
        return re.sub(r"[^A-Za-z0-9._-]+", "_", "-".join(self.key)).strip("_")


def group_runs(runs: list[RunInfo]) -> list[ModelRuns]:
    groups: dict[tuple[str, ...], list[RunInfo]] = {}
    for run in runs:
        key = (run.model, run.dataset, run.split or "", run.mode, str(run.fraction or ""), str(run.seed or 0))
        groups.setdefault(key, []).append(run)
    return [ModelRuns(k, v) for k, v in sorted(groups.items())]


def _merge(records: list[Record], into: dict[str, dict[str, Any]]) -> None:
    for rec in records:
        merged = into.setdefault(rec.id, {})
        for field in ("image", "labels", "boxes", "masks", "report", "meta"):
            value = getattr(rec, field)
            if value is not None and merged.get(field) is None:
                merged[field] = value


def load_group(group: ModelRuns) -> tuple[list[str], list[dict[str, Any]], list[dict[str, Any]]]:
    """Image ids (first run's gt order, then new ids), merged gt and merged prediction fields per id."""
    gt: dict[str, dict[str, Any]] = {}
    pred: dict[str, dict[str, Any]] = {}
    for run in group.runs:
        _merge([r for _, r in read_records(run.path / GT_FILE, "gt")], gt)
        _merge([r for _, r in read_records(run.path / PRED_FILE, "pred")], pred)
    ids = [i for i in gt if i in pred]
    return ids, [gt[i] for i in ids], [pred[i] for i in ids]


def chexpert_column(label: str) -> str | None:
    name = NIH_CHESTXRAY14.get(label, label)
    return name if name in CHEXPERT_LABELS else None


def _image_size(gt: dict[str, Any], pred: dict[str, Any]) -> tuple[float, float] | None:
    for rec in (gt, pred):
        if rec.get("image") is not None:
            return float(rec["image"].width), float(rec["image"].height)
        masks = [m for m in (rec.get("masks") or {}).values() if m is not None]
        if masks:
            return float(masks[0].size[1]), float(masks[0].size[0])
    return None


def score_consistency(
    gt: list[dict[str, Any]],
    pred: list[dict[str, Any]],
    *,
    n_boot: int,
    seed: int,
    clusters: np.ndarray | None = None,
) -> TaskResult:
    n = len(pred)
    reports = [p.get("report") for p in pred]
    has_report = np.array([r is not None for r in reports])
    report_labels = label_reports([r or "" for r in reports])
    report_labels[~has_report] = np.nan
    counts = bootstrap_counts(n, n_boot, seed, clusters=clusters) if n_boot > 0 and n > 0 else None
    metrics: dict[str, MetricValue] = {}
    per_label: dict[str, dict[str, float | None]] = {}
    notes: dict[str, Any] = {"n_images": n, "n_with_report": int(has_report.sum())}

    def put(name: str, point: np.ndarray, reps: np.ndarray | None, why_undefined: str) -> None:
        value = float(point[0])
        if not np.isfinite(value):
            notes.setdefault("undefined", {})[name] = why_undefined
            metrics[name] = MetricValue(None)
            return
        metrics[name] = MetricValue(value, None if reps is None else percentile_ci(reps))

    # (a) classification vs report labels
    model_labels = sorted({k for p in pred for k in (p.get("labels") or {})})
    columns = [(name, chexpert_column(name)) for name in model_labels]
    notes["labels_without_chexpert_equivalent"] = [name for name, col in columns if col is None]
    mapped = [(name, col) for name, col in columns if col is not None]
    scores = np.full((n, len(mapped)), np.nan)
    for i, p in enumerate(pred):
        for j, (name, _) in enumerate(mapped):
            value = (p.get("labels") or {}).get(name)
            if value is not None and has_report[i]:
                scores[i, j] = value
    said = cm.report_positive(report_labels[:, [CHEXPERT_LABELS.index(col) for _, col in mapped]])
    cells = cm.pair_cells(cm.binarize_scores(scores), said)
    point = cm.label_agreement(cells)
    reps = cm.label_agreement(cells, counts) if counts is not None else None
    why = "no image has both a classification output and a report"
    for key, name in (
        ("agreement_micro", "label_agreement_micro"),
        ("kappa_micro", "label_kappa_micro"),
        ("kappa_macro", "label_kappa_macro"),
    ):
        put(name, point[key], None if reps is None else reps[key], why + " (or kappa has no variation)")
    if mapped:
        notes["per_label_ci95"] = {}
        for stat in ("agreement", "kappa"):
            per_label[stat] = {}
            notes["per_label_ci95"][stat] = {}
            for j, (name, _) in enumerate(mapped):
                v = float(point[stat][0, j])
                per_label[stat][name] = v if np.isfinite(v) else None
                ci = None if reps is None else percentile_ci(reps[stat][:, j])
                notes["per_label_ci95"][stat][name] = None if ci is None else list(ci)
        per_label["n_pairs"] = {name: float(cells[:, :, j].sum()) for j, (name, _) in enumerate(mapped)}
        notes["label_map"] = {name: col for name, col in mapped}

    # (b) box locations vs report
    boxes, sizes, texts = [], [], []
    for g, p in zip(gt, pred, strict=True):
        size = _image_size(g, p)
        usable = p.get("boxes") is not None and p.get("report") is not None and size is not None
        boxes.append([(b.label, b.bbox) for b in p["boxes"]] if usable else [])
        sizes.append(size or (1.0, 1.0))
        texts.append(p.get("report") or "")
    tallies = cm.location_tallies(boxes, sizes, texts)
    for total, agree, name in (
        ("side_total", "side_agree", "laterality_agreement"),
        ("zone_total", "zone_agree", "zone_agreement"),
    ):
        point_b = cm.ratio_replicates(tallies[agree], tallies[total])
        reps_b = None if counts is None else cm.ratio_replicates(tallies[agree], tallies[total], counts)
        put(name, point_b, reps_b, "no (image, box label) pair whose report states a location for it")
    notes["location_pairs"] = {k: int(v.sum()) for k, v in tallies.items()}

    # (c) cardiothoracic ratio vs report
    ctr = np.full(n, np.nan)
    for i, p in enumerate(pred):
        masks = p.get("masks") or {}
        if has_report[i] and masks.get(HEART) is not None and any(masks.get(s) is not None for s in LUNGS):
            lungs = [decode_mask(masks[s].rle()) for s in LUNGS if masks.get(s) is not None]
            ctr[i] = cm.cardiothoracic_ratio(decode_mask(masks[HEART].rle()), lungs)
    ctr_says = np.where(np.isnan(ctr), np.nan, (ctr > cm.CTR_THRESHOLD).astype(float))
    report_says = cm.report_positive(report_labels[:, CHEXPERT_LABELS.index("Cardiomegaly")])
    ctr_cells = cm.pair_cells(ctr_says[:, None], report_says[:, None])
    point_c = cm.label_agreement(ctr_cells)
    reps_c = cm.label_agreement(ctr_cells, counts) if counts is not None else None
    why_c = "no image has predicted heart and lung masks and a report"
    put(
        "ctr_agreement",
        point_c["agreement_micro"],
        None if reps_c is None else reps_c["agreement_micro"],
        why_c,
    )
    put(
        "ctr_kappa",
        point_c["kappa_micro"],
        None if reps_c is None else reps_c["kappa_micro"],
        why_c + " (or kappa has no variation)",
    )
    notes["ctr_images"] = int(np.isfinite(ctr).sum())
    notes["ctr_above_threshold"] = int(np.nansum(ctr_says))
    return TaskResult(metrics=metrics, per_label=per_label, conventions=dict(CONVENTIONS), notes=notes)


def _cluster_unit(group: ModelRuns, ids: list[str], gt: list[dict[str, Any]]) -> Any:
    """The coarsest unit the merged ground truth carries, as `cxrbench score` chooses it."""
    from bench.run.align import Aligned
    from bench.run.scoring import resolve_cluster

    records = [(0, Record.model_construct(id=i, meta=g.get("meta"))) for i, g in zip(ids, gt, strict=True)]
    path = group.runs[0].path / GT_FILE
    return resolve_cluster(Aligned("consistency", path, path, records, []), None)


def build_consistency(group: ModelRuns, n_boot: int, seed: int) -> dict[str, Any]:
    ids, gt, pred = load_group(group)
    if not ids:
        raise RunDirError(f"{group.runs[0].path}: no image has both ground truth and predictions")
    unit = _cluster_unit(group, ids, gt)
    body = score_consistency(gt, pred, n_boot=n_boot, seed=seed, clusters=unit.clusters).to_json()
    inputs = {}
    for k, run in enumerate(group.runs):
        for role, path in file_provenance({"gt": run.path / GT_FILE, "pred": run.path / PRED_FILE}).items():
            inputs[f"{role}{k}" if len(group.runs) > 1 else role] = {**path, "run_dir": str(run.path)}
    return {
        "schema_version": 1,
        "task": "consistency",
        "n": len(ids),
        "metrics": {k: body["metrics"][k] for k in METRIC_ORDER},
        "per_label": body["per_label"],
        "conventions": body["conventions"],
        "settings": {
            "bootstrap_replicates": n_boot,
            "seed": seed,
            "ci_level": 0.95,
            "threshold": 0.5,
            "cluster": unit.unit,
            "n_clusters": unit.n_clusters,
        },
        "notes": body["notes"],
        "provenance": {
            "model": group.runs[0].model,
            "dataset": group.runs[0].dataset,
            "split": group.runs[0].split,
            "mode": group.runs[0].mode,
            "inputs": inputs,
            "ids_sha256": sha256_text_lines(sorted(ids)),
            "seed": seed,
        },
    }


def _fmt(metric: dict[str, Any]) -> str:
    if metric["value"] is None:
        return "— (undefined)"
    ci = metric["ci95"]
    return f"{metric['value']:.3f}" + ("" if ci is None else f" [{ci[0]:.3f}, {ci[1]:.3f}]")


def render_markdown(results: list[dict[str, Any]]) -> str:
    header = "| model | dataset | n | " + " | ".join(METRIC_ORDER) + " |"
    lines = ["# Cross-task consistency", "", header, "|" + "---|" * (3 + len(METRIC_ORDER))]
    for res in results:
        prov = res["provenance"]
        cells = [_fmt(res["metrics"][k]) for k in METRIC_ORDER]
        lines.append(f"| {prov['model']} | {prov['dataset']} | {res['n']} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Value [95 % bootstrap CI over images]; undefined cells are explained in `notes.undefined`.",
        "",
    ]
    lines += [f"- **{k}**: {v}" for k, v in CONVENTIONS.items()]
    for res in results:
        if res["per_label"].get("agreement"):
            lines += ["", f"## Per label: {res['provenance']['model']} on {res['provenance']['dataset']}", ""]
            lines += ["| label | agreement | kappa | pairs |", "|---|---|---|---|"]
            for label, value in res["per_label"]["agreement"].items():
                kappa = res["per_label"]["kappa"][label]
                cells = ["—" if v is None else f"{v:.3f}" for v in (value, kappa)]
                lines.append(
                    f"| {label} | {cells[0]} | {cells[1]} | {int(res['per_label']['n_pairs'][label])} |"
                )
    return "\n".join(lines) + "\n"


def consistency_command(run_dirs: list[Path], out_dir: Path, n_boot: int = 1000, seed: int = 0) -> int:
    """Score cross-task consistency for every (model, dataset) among RUN_DIRS; writes OUT_DIR/consistency.*"""
    try:
        groups = group_runs(discover_runs(list(run_dirs)))
        if not groups:
            raise RunDirError("no run directory found")
        results = [build_consistency(g, n_boot, seed) for g in groups]
    except Exception as exc:  # noqa: BLE001 - bench.errors.report re-raises what is not a user's error
        return report(exc)
    out_dir = Path(out_dir)
    text = lambda r: json.dumps(r, indent=2, ensure_ascii=False, allow_nan=False) + "\n"  # noqa: E731
    if len(results) == 1:
        atomic_write_text(out_dir / "consistency.json", text(results[0]))
    else:
        for group, res in zip(groups, results, strict=True):
            atomic_write_text(out_dir / group.slug / "consistency.json", text(res))
    atomic_write_text(out_dir / "consistency.md", render_markdown(results))
    for res in results:
        prov = res["provenance"]
        shown = ", ".join(f"{k} {_fmt(res['metrics'][k])}" for k in METRIC_ORDER)
        print(f"{prov['model']} on {prov['dataset']} (n={res['n']}): {shown}")
    print(f"-> {out_dir / 'consistency.md'}")
    return 0
