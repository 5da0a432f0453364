from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from readerstudy.cli import study_app
from readerstudy.study import blinding_audit as ba
from readerstudy.study.demo import template_cases
from readerstudy.study.harmonise import harmonise_report

runner = CliRunner()

# A small report generator: both sources drawn from it are one distribution.
NORMAL = ["The lungs are clear.", "No pleural effusion.", "No pneumothorax.", "Heart size is normal."]
ABNORMAL = [
    "Small right pleural effusion.",
    "Moderate left pleural effusion.",
    "Mild cardiomegaly.",
    "Patchy opacity in the left lower lobe.",
    "Right upper lobe consolidation.",
    "A 12 mm nodule in the right middle zone.",
    "Mild pulmonary edema.",
]


def generated_report(rng: np.random.Generator) -> str:
    findings = list(rng.choice(ABNORMAL, size=int(rng.integers(0, 3)), replace=False))
    negatives = [s for s in NORMAL if rng.random() < 0.7]
    impression = findings[0] if findings else "No acute cardiopulmonary abnormality."
    return f"FINDINGS: {' '.join(findings + negatives) or 'Normal.'}\nIMPRESSION: {impression}"


def same_distribution(n: int, seed: int) -> tuple[list[str], list[str]]:
    rng = np.random.default_rng(seed)
    originals = [harmonise_report(generated_report(rng)) for _ in range(n)]
    ai = [harmonise_report(generated_report(rng)) for _ in range(n)]
    return ai, originals


# The old demo's "AI" rewrite (readerstudy/study/demo.py before this change): synonyms only the AI text used.
OLD_SYNONYMS = [
    (r"\bThere is no\b", "No"),
    (r"\bThere are no\b", "No"),
    (r"\bcardiac silhouette\b", "heart size"),
    (r"\bwithin normal limits\b", "normal"),
    (r"\bpulmonary vasculature\b", "pulmonary vessels"),
    (r"\bfocal airspace (?:disease|consolidation)\b", "focal consolidation"),
    (r"\bacute cardiopulmonary (?:abnormality|disease|process)\b", "acute cardiopulmonary findings"),
    (r"\bThe lungs are clear\b", "Clear lungs"),
    (r"\bmild\b", "slight"),
]


def old_demo_rewrite(report: str) -> str:
    for pattern, replacement in OLD_SYNONYMS:
        report = re.sub(pattern, replacement, report, flags=re.IGNORECASE)
    return report


def test_auc_is_the_mann_whitney_auc_of_sklearn() -> None:
    rng = np.random.default_rng(0)
    ai, original = rng.integers(0, 5, 40).astype(float), rng.integers(0, 5, 40).astype(float)  # many ties
    wins = ba.pairwise_wins(ai, original)
    expected = roc_auc_score(np.r_[np.ones(40), np.zeros(40)], np.r_[ai, original])
    assert wins.mean() == pytest.approx(expected, abs=1e-12)


def test_bootstrap_ci_matches_a_naive_case_bootstrap() -> None:
    """w'Ww / n^2 per resample equals sklearn's AUC on the resampled cases (both reports of a case together)."""
    rng = np.random.default_rng(1)
    ai, original = rng.normal(0.3, 1, 30), rng.normal(0, 1, 30)
    n_boot, seed = 300, 11
    ci = ba.bootstrap_auc_ci(ba.pairwise_wins(ai, original), n_boot, seed)
    draws = np.random.default_rng(seed).integers(0, 30, size=(n_boot, 30))
    naive = [roc_auc_score(np.r_[np.ones(30), np.zeros(30)], np.r_[ai[d], original[d]]) for d in draws]
    assert ci == pytest.approx([np.quantile(naive, 0.025), np.quantile(naive, 0.975)], abs=1e-12)


def test_corrected_repeated_cv_interval_by_hand() -> None:
    """Nadeau-Bengio: mean 0.6, var 0.01 * (1/3 + 1/4), t(0.975, 2) = 4.302653 (t table) -> 0.6 +- 0.328622."""
    low, high = ba.corrected_t_interval(np.array([0.5, 0.6, 0.7]), n_splits=5)
    half = 4.302652729911275 * (0.01 * (1 / 3 + 1 / 4)) ** 0.5
    assert (low, high) == pytest.approx((0.6 - half, 0.6 + half), abs=1e-9)
    assert ba.corrected_t_interval(np.array([1.0, 1.0, 1.0]), n_splits=5) == [1.0, 1.0]


def test_a_fixed_phrase_is_caught() -> None:
    ai, original = same_distribution(60, seed=3)
    flagged = [harmonise_report(t + "\nIMPRESSION: Clinical correlation is recommended.") for t in ai]
    audit = ba.run_blinding_audit(flagged, original, seed=1)
    assert audit["status"] == "distinguishable" and audit["ci95"][0] > 0.9


@pytest.mark.parametrize("seed", [5, 6, 7])
def test_one_distribution_is_not_caught(seed: int) -> None:
    ai, original = same_distribution(80, seed)
    audit = ba.run_blinding_audit(ai, original, seed=seed)
    assert audit["status"] == "passed"
    assert audit["ci95"][0] < 0.5 < audit["ci95"][1]


def test_retrieved_reports_of_other_cases_are_not_caught() -> None:
    """AI text = the report of the nearest case of a separate pool with matching findings (the demo's design)."""
    from readerstudy.study.demo import retrieve

    cases = template_cases(100, "test-cases", image_size=32)
    pool = template_cases(200, "test-pool", image_size=32)
    chosen = retrieve([c[2] for c in cases], [p[2] for p in pool])
    original = [harmonise_report(f"FINDINGS: {f}\nIMPRESSION: {i}") for f, i, _, _ in cases]
    ai = [harmonise_report(f"FINDINGS: {pool[j][0]}\nIMPRESSION: {pool[j][1]}") for j in chosen]
    audit = ba.run_blinding_audit(ai, original, seed=2)
    assert audit["status"] == "passed" and audit["ci95"][0] < 0.5 < audit["ci95"][1]


def test_the_old_demo_synonym_rule_is_caught() -> None:
    cases = template_cases(100, "test-old-demo", image_size=32)
    original = [
        f"FINDINGS: {f} The cardiac silhouette is within normal limits.\nIMPRESSION: {i}"
        for f, i, *_ in cases
    ]
    audit = ba.run_blinding_audit(
        [harmonise_report(old_demo_rewrite(t)) for t in original],
        [harmonise_report(t) for t in original],
        seed=4,
    )
    assert audit["status"] == "distinguishable"


def test_small_studies_are_recorded_as_skipped() -> None:
    audit = ba.run_blinding_audit(["FINDINGS: A."] * 9, ["FINDINGS: B."] * 9)
    assert audit["status"] == "skipped" and audit["auc"] is None and "at least 10" in ba.describe(audit)
    assert ba.run_blinding_audit([""] * 12, [" "] * 12)["status"] == "skipped"
    with pytest.raises(ValueError, match="one AI and one original"):
        ba.run_blinding_audit(["a"], ["b", "c"])


def test_analysis_json_and_report_carry_the_audit(tmp_path: Path) -> None:
    """`study simulate` builds with the override (its texts differ on purpose); analyze copies the record."""
    db = str(tmp_path / "s.db")
    assert (
        runner.invoke(study_app, ["simulate", "--db", db, "--readers", "2", "--cases", "12"]).exit_code == 0
    )
    result = runner.invoke(study_app, ["analyze", "--db", db, "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    audit = json.loads((tmp_path / "out" / "analysis.json").read_text())["blinding_audit"]
    assert audit["status"] == "distinguishable" and audit["override"] is True and audit["n_cases"] == 12
    report = (tmp_path / "out" / "report.md").read_text()
    assert "## Blinding audit" in report and "--allow-distinguishable" in report
    assert f"AUC {audit['auc']:.3f} [{audit['ci95'][0]:.3f}, {audit['ci95'][1]:.3f}]" in report
