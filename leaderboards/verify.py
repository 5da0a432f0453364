"""`verify`: re-hash a run's inputs and recompute every metric from its stored predictions and ground truth.

Statuses: MATCH (recomputed number equal to the stored one; exact unless marked "within tol"), MISMATCH (a
number differs, or a file changed since the results were written), UNVERIFIED (cannot be recomputed here, e.g.
METEOR without Java, or a BERTScore model folder that is absent; the reason is printed).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.run.provenance import sha256_file
from leaderboards.runs import MANIFEST

MATCH, MISMATCH, UNVERIFIED = "MATCH", "MISMATCH", "UNVERIFIED"
RELATIVE_TOLERANCE = 1e-9  # only float summation-order noise (thread counts, BLAS) may differ across machines
EXIT_OK, EXIT_MISMATCH, EXIT_UNVERIFIED = 0, 1, 3


@dataclass
class Check:
    status: str
    subject: str
    detail: str = ""

    def line(self) -> str:
        return f"{self.status:<10} {self.subject}" + (f"  {self.detail}" if self.detail else "")


@dataclass
class Verification:
    checks: list[Check] = field(default_factory=list)
    metrics: dict[tuple[str, str], Check] = field(
        default_factory=dict
    )  # (results file, metric path) -> check

    def add(self, check: Check) -> Check:
        self.checks.append(check)
        return check

    @property
    def exit_code(self) -> int:
        statuses = {c.status for c in self.checks}
        if MISMATCH in statuses:
            return EXIT_MISMATCH
        return EXIT_UNVERIFIED if UNVERIFIED in statuses else EXIT_OK


def _short(digest: str) -> str:
    return digest[:12] + "…"


def _same(stored: float | None, recomputed: float | None) -> tuple[bool, bool]:
    """(equal within tolerance, exactly equal)."""
    if stored is None or recomputed is None:
        return stored is recomputed, stored is recomputed
    if stored == recomputed:
        return True, True
    return math.isclose(stored, recomputed, rel_tol=RELATIVE_TOLERANCE, abs_tol=1e-12), False


def _hash_entries(node: Any, found: list[dict[str, str]]) -> list[dict[str, str]]:
    """Every {"path", "sha256"} mapping anywhere in the manifest."""
    if isinstance(node, dict):
        if isinstance(node.get("path"), str) and isinstance(node.get("sha256"), str):
            found.append(node)
        for value in node.values():
            _hash_entries(value, found)
    elif isinstance(node, list):
        for value in node:
            _hash_entries(value, found)
    return found


def check_file_hash(path: Path, recorded: str, recorded_in: str) -> Check:
    if not path.is_file():
        return Check(MISMATCH, f"file {path}", f"is missing; {recorded_in} records sha256 {_short(recorded)}")
    now = sha256_file(path)
    if now != recorded:
        return Check(
            MISMATCH,
            f"file {path}",
            f"CHANGED since {recorded_in} was written (recorded sha256 {_short(recorded)}, now {_short(now)})",
        )
    return Check(MATCH, f"file {path}", f"sha256 {_short(now)} as recorded in {recorded_in}")


def _check_manifest(run_dir: Path, report: Verification) -> None:
    path = run_dir / MANIFEST
    if not path.is_file():
        report.add(
            Check(UNVERIFIED, f"file {path}", "no manifest: only the results files' provenance is checked")
        )
        return
    manifest = json.loads(path.read_text(encoding="utf-8"))
    # A relative model path (predictions:preds.jsonl) is relative to the folder the run was started in.
    started_in = [Path(manifest["cwd"])] if isinstance(manifest.get("cwd"), str) else []
    for entry in _hash_entries(manifest, []):
        target = Path(entry["path"])
        if target.is_absolute():
            candidates = [target]
        else:
            candidates = [
                run_dir / target,
                *(folder / target for folder in started_in),
                run_dir / target.name,
            ]
        local = next((c for c in candidates if c.is_file()), candidates[0])
        if local.is_file() or local.parent.resolve() == run_dir.resolve():
            report.add(check_file_hash(local, entry["sha256"], str(path)))


def _settings(results: dict[str, Any]) -> Any:
    from bench.run.settings import ScoreSettings

    stored = results.get("settings", {})
    kwargs = {"n_boot": stored.get("bootstrap_replicates", 0), "seed": stored.get("seed", 0)}
    for key in (
        "labels",
        "froc_hit",
        "empty_rule",
        "ce_labelset",
        "bertscore_model",
        "bertscore_layers",
        "bertscore_idf",
        "bertscore_baseline",
        "meteor",
        "chexbert",
        "chexbert_tokenizer",
        "chexbert_batch_size",
        "device",
        "radgraph",
        "radgraph_batch_size",
        "cluster",
        "level",
        "study_aggregate",
        "calibration",
        "subgroups",
        "nofinding_threshold",
        "subgroups_absent",
    ):
        if key in stored and key in _field_names(ScoreSettings):
            kwargs[key] = stored[key]
    # age_bins is recorded as a rule name ("decades-80") when left at the default
    if isinstance(stored.get("age_bins"), list):
        kwargs["age_bins"] = stored["age_bins"]
    return ScoreSettings(**kwargs)


def _field_names(cls: type) -> set[str]:
    import dataclasses

    return {f.name for f in dataclasses.fields(cls)}


def _metric_check(
    subject: str, stored: dict[str, Any], fresh: dict[str, Any] | None, fresh_notes: Any
) -> Check:
    if fresh is None:
        return Check(MISMATCH, subject, "not produced by the recomputation")
    value_ok, value_exact = _same(stored.get("value"), fresh.get("value"))
    s_ci, f_ci = stored.get("ci95") or [None, None], fresh.get("ci95") or [None, None]
    ci_same = [_same(a, b) for a, b in zip(s_ci, f_ci, strict=True)]
    if stored.get("value") is not None and fresh.get("value") is None:
        hint = json.dumps(fresh_notes, ensure_ascii=False)[:200]
        return Check(
            UNVERIFIED, subject, f"stored {stored['value']!r} but not computable here (notes: {hint})"
        )
    if value_ok and all(ok for ok, _ in ci_same):
        exact = value_exact and all(ex for _, ex in ci_same)
        return Check(MATCH, subject, f"{stored.get('value')!r}" + ("" if exact else " (within tol)"))
    return Check(
        MISMATCH,
        subject,
        f"stored {stored.get('value')!r} {stored.get('ci95')}, recomputed {fresh.get('value')!r} {fresh.get('ci95')}",
    )


def _verify_results_file(run_dir: Path, results_path: Path, report: Verification) -> None:
    from bench.run.score import build_results, results_json

    text = results_path.read_text(encoding="utf-8")
    stored = json.loads(text)
    task = stored["task"]
    inputs = stored["provenance"]["inputs"]
    files = {role: run_dir / entry["path"] for role, entry in inputs.items()}
    for role, entry in inputs.items():
        report.add(check_file_hash(files[role], entry["sha256"], str(results_path)))
    if not all(p.is_file() for p in files.values()):
        for name in stored["metrics"]:
            key = (str(results_path), f"metrics.{name}")
            report.metrics[key] = report.add(Check(UNVERIFIED, f"{task}/{name}", "input file missing"))
        return
    try:
        fresh = build_results(task, files["gt"], files["pred"], _settings(stored))
    except Exception as exc:  # any failure to recompute is reported per metric, never hidden
        for name in stored["metrics"]:
            key = (str(results_path), f"metrics.{name}")
            report.metrics[key] = report.add(
                Check(UNVERIFIED, f"{task}/{name}", f"recomputation failed: {exc}")
            )
        return
    for name, entry in stored["metrics"].items():
        check = _metric_check(f"{task}/{name}", entry, fresh["metrics"].get(name), fresh.get("notes"))
        report.metrics[(str(results_path), f"metrics.{name}")] = report.add(check)
    for stat, values in stored.get("per_label", {}).items():
        bad = []
        for label, value in values.items():
            new = fresh.get("per_label", {}).get(stat, {}).get(label)
            ok, _ = _same(value, new)
            check = Check(MATCH if ok else MISMATCH, f"{task}/{stat}/{label}", f"{value!r}")
            report.metrics[(str(results_path), f"per_label.{stat}.{label}")] = check
            if not ok:
                bad.append(f"{label}: stored {value!r}, recomputed {new!r}")
        status = MISMATCH if bad else MATCH
        report.add(Check(status, f"{task}/per_label {stat}", "; ".join(bad) or f"{len(values)} labels"))
    identical = results_json(fresh) == text
    differing = sorted(k for k in set(stored) | set(fresh) if stored.get(k) != fresh.get(k))
    detail = "byte-identical" if identical else f"not byte-identical; differs in {differing}"
    if "subgroups" in stored and "subgroups" not in fresh and set(differing) <= {"provenance", "subgroups"}:
        report.add(
            Check(
                UNVERIFIED,
                f"{task}/subgroups",
                "not recomputed: this cxrbench's score does not reproduce the results' subgroups (--subgroups); "
                "every other key of the results file matches",
            )
        )
    elif identical or set(differing) <= {"provenance"}:
        report.add(Check(MATCH, f"{task}/results file", detail))
    else:
        report.add(Check(MISMATCH, f"{task}/results file", detail))


def verify_run(run_dir: str | Path) -> Verification:
    folder = Path(run_dir)
    report = Verification()
    results = sorted((folder / "results").glob("*.json"))
    if not results:
        report.add(Check(MISMATCH, f"run {folder}", "no results/*.json to verify"))
        return report
    _check_manifest(folder, report)
    for path in results:
        _verify_results_file(folder, path, report)
    return report
