"""`compare --metrics meteor_nltk`: NLTK's METEOR is a mean of per-report scores, so both systems' reports are scored
once and each replicate re-averages its cases: checked against explicit resampling and swapping of those scores,
and against `score --meteor-nltk` on each file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bench.metrics.bootstrap import bootstrap_indices
from bench.metrics.report.meteor_nltk import meteor_nltk, wordnet_missing
from bench.metrics.significance import randomization_swaps
from bench.run.compare import compare_files
from bench.run.score import build_results
from bench.run.settings import ScoreSettings

_MISSING = wordnet_missing()
needs_wordnet = pytest.mark.skipif(_MISSING is not None, reason=_MISSING or "")

REFS = [
    "No acute cardiopulmonary process.",
    "Small left pleural effusion with adjacent atelectasis.",
    "Heart size is normal. The lungs are clear.",
    "Mild pulmonary edema, slightly worse than before.",
    "Right lower lobe opacity concerning for pneumonia.",
    "Stable cardiomegaly without pulmonary edema.",
]
HYPS = {
    "a": [
        "No acute process in the chest.",
        "Small left effusion and atelectasis.",
        "Normal heart size, clear lungs.",
        "Moderate edema of the lungs.",
        "Opacity at the right base, possibly pneumonia.",
        "The heart is enlarged; no edema.",
    ],
    "b": [
        "Lungs are clear.",
        "Large right pleural effusion.",
        "Heart size is normal and the lungs are clear.",
        "No edema.",
        "Right lower lobe pneumonia.",
        "Cardiomegaly, stable. No pulmonary edema.",
    ],
}


def _files(tmp_path: Path) -> tuple[Path, Path, Path]:
    (tmp_path / "gt.jsonl").write_text(
        "".join(json.dumps({"id": f"r{i}", "report": r}) + "\n" for i, r in enumerate(REFS)), encoding="utf-8"
    )
    for system, texts in HYPS.items():
        (tmp_path / f"{system}.jsonl").write_text(
            "".join(json.dumps({"id": f"r{i}", "report": h}) + "\n" for i, h in enumerate(texts)),
            encoding="utf-8",
        )
    return tmp_path / "gt.jsonl", tmp_path / "a.jsonl", tmp_path / "b.jsonl"


@needs_wordnet
def test_paired_tests_re_average_the_per_report_scores(tmp_path: Path) -> None:
    gt, a, b = _files(tmp_path)
    result = compare_files(
        "report",
        gt,
        a,
        b,
        tmp_path / "c.json",
        metrics=["meteor_nltk", "bleu4"],
        n_boot=200,
        n_perm=200,
        seed=3,
    )
    entry = result["comparisons"]["meteor_nltk"]
    for system, path in (("a", a), ("b", b)):
        scored = build_results("report", gt, path, ScoreSettings(n_boot=0, meteor=False, meteor_nltk=True))
        assert entry[system] == scored["metrics"]["meteor_nltk"]["value"]
    per_a, per_b = (meteor_nltk(REFS, HYPS[s]).per_case for s in "ab")
    assert per_a is not None and per_b is not None
    diffs = [per_a[rows].mean() - per_b[rows].mean() for rows in bootstrap_indices(len(REFS), 200, 3)]
    assert entry["paired_bootstrap"]["ci95"] == pytest.approx(
        list(np.percentile(diffs, [2.5, 97.5])), abs=1e-12
    )
    observed = per_a.mean() - per_b.mean()
    swapped = [
        np.where(swap, per_b, per_a).mean() - np.where(swap, per_a, per_b).mean()
        for chunk in randomization_swaps(len(REFS), 200, 3)
        for swap in chunk
    ]
    at_least = sum(abs(d) >= abs(observed) - 1e-12 for d in swapped)
    assert entry["approximate_randomization"]["p_value"] == pytest.approx((at_least + 1) / 201, abs=1e-15)
    assert result["conventions"]["meteor_nltk"]["implementation"].startswith("nltk.translate.meteor_score")
    assert "bleu4" in result["comparisons"]


def test_without_wordnet_it_is_unavailable_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WNSEARCHDIR", str(tmp_path / "no-wordnet"))
    gt, a, b = _files(tmp_path)
    result = compare_files(
        "report", gt, a, b, tmp_path / "c.json", metrics=["meteor_nltk", "bleu4"], n_boot=20, n_perm=20
    )
    assert "meteor_nltk" not in result["comparisons"] and "bleu4" in result["comparisons"]
    assert "wordnet-base" in result["unavailable"]["meteor_nltk"]
