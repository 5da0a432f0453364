"""meteor_nltk: NLTK's METEOR as Hugging Face evaluate's "meteor" calls it, on WordNet read from Debian's files."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import numpy as np
import pytest
from nltk.tokenize import word_tokenize
from nltk.translate.meteor_score import meteor_score
from typer.testing import CliRunner

from bench.metrics.bootstrap import bootstrap_counts, bootstrap_indices, cluster_numbers, percentile_ci
from bench.metrics.report.meteor_nltk import (
    LEXNAMES,
    meteor_nltk,
    meteor_nltk_bootstrap,
    tokenize,
    wordnet_dir,
    wordnet_missing,
    wordnet_reader,
)

_MISSING = wordnet_missing()
needs_wordnet = pytest.mark.skipif(_MISSING is not None, reason=_MISSING or "")

# NLTK's single_meteor_score docstring and evaluate's metrics/meteor/meteor.py docstring: 0.6944.
GUIDE_HYP = "It is a guide to action which ensures that the military always obeys the commands of the party"
GUIDE_REF = "It is a guide to action that ensures that the military will forever heed Party commands"

REPORTS = [
    (["No acute cardiopulmonary process. Heart size is normal."], "Heart size normal. No acute process."),
    (
        ["Small left pleural effusion.", "Left effusion, small."],
        "There is a small effusion on the left side.",
    ),
    (["Mild cardiomegaly with pulmonary edema."], "Enlarged heart and edema in the lungs."),
    (["The lungs are clear."], ""),
    (
        ["Right lower lobe opacity, likely pneumonia."],
        "Opacity in the right lower lobe concerning for pneumonia.",
    ),
]


@needs_wordnet
def test_published_example_value() -> None:
    result = meteor_nltk([GUIDE_REF], [GUIDE_HYP])
    assert round(result.value, 4) == 0.6944


@needs_wordnet
def test_equals_direct_nltk_call_on_the_same_tokens() -> None:
    """evaluate's _compute: meteor_score([tokens of each ref], tokens of hyp, alpha=0.9, beta=3, gamma=0.5), mean."""
    refs = [r for r, _ in REPORTS]
    hyps = [h for _, h in REPORTS]
    reader = wordnet_reader(str(wordnet_dir()))
    expected = [
        meteor_score([tokenize(r) for r in case], tokenize(h), wordnet=reader, alpha=0.9, beta=3, gamma=0.5)
        for case, h in zip(refs, hyps, strict=True)
    ]
    result = meteor_nltk(refs, hyps)
    np.testing.assert_allclose(result.per_case, expected, rtol=0, atol=1e-15)
    assert result.value == pytest.approx(float(np.mean(expected)), abs=1e-15)
    assert result.per_case[3] == 0.0  # empty hypothesis
    # the multi-reference case keeps the better of its two references
    assert result.per_case[1] == max(
        meteor_score([tokenize(r)], tokenize(hyps[1]), wordnet=reader) for r in refs[1]
    )


def test_tokenizer_is_word_tokenize_per_sentence() -> None:
    """Within one sentence word_tokenize(preserve_line=True) is NLTK's word tokenizer alone (no Punkt model)."""
    one = "Heart size is normal, approx. 2.5 cm nodule (RUL)."
    assert tokenize("Small left effusion.") == word_tokenize("Small left effusion.", preserve_line=True)
    two = "No acute process. Heart size is normal."
    assert tokenize(two) == [
        *word_tokenize("No acute process.", preserve_line=True),
        *word_tokenize("Heart size is normal.", preserve_line=True),
    ]
    # documented difference from the pretrained English Punkt: "approx." ends a sentence here
    assert tokenize(one)[:7] == ["Heart", "size", "is", "normal", ",", "approx", "."]


@needs_wordnet
def test_hand_checked_cases() -> None:
    # all 4 tokens matched in one chunk: P = R = 1, penalty 0.5 (1/4)^3 -> 1 - 1/128
    identical = meteor_nltk(["the heart is normal"], ["the heart is normal"]).value
    assert identical == pytest.approx(1 - 0.5 / 64, abs=1e-15)
    assert meteor_nltk(["pleural effusion"], ["clear lungs"]).value == 0.0
    # "ill" / "sick" share a WordNet synset (ill.a.01), and Porter leaves both unchanged: matched as synonyms ->
    # 2 of 2 tokens in one chunk, 1 - 0.5 (1/2)^3 = 0.9375. Exact matching alone would give 0.25.
    assert meteor_nltk(["the patient is ill"], ["the patient is sick"]).value == pytest.approx(
        1 - 0.5 / 64, abs=1e-15
    )
    assert meteor_nltk(["the ill"], ["the sick"]).value == pytest.approx(0.9375, abs=1e-15)


@needs_wordnet
def test_wordnet_from_debian_files() -> None:
    reader = wordnet_reader(str(wordnet_dir()))
    assert reader.get_version() == "3.0"
    dog = reader.synsets("dog")[0]
    assert dog.name() == "dog.n.01" and dog.lexname() == "noun.animal"
    assert reader.synset("run.v.01").lexname() == "verb.motion"
    assert reader.synset("big.s.01").lexname() == "adj.all"


def test_lexnames_table_equals_the_man_page() -> None:
    page = Path("/usr/share/man/man5/lexnames.5WN.gz")
    if not page.is_file():
        pytest.skip("wordnet-base's lexnames(5WN) man page is not installed")
    rows = re.findall(r"^(\d\d)\t(\S+)\s", gzip.decompress(page.read_bytes()).decode(), flags=re.M)
    assert [name for _, name in rows] == list(LEXNAMES)
    assert [int(number) for number, _ in rows] == list(range(45))


def test_without_wordnet_one_sentence_and_no_download(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nltk

    monkeypatch.setattr(nltk, "download", lambda *a, **k: pytest.fail("nltk.download called"))
    monkeypatch.setenv("WNSEARCHDIR", str(tmp_path / "nowhere"))
    result = meteor_nltk(["a b"], ["a b"])
    assert result.value is None and result.per_case is None
    assert "wordnet-base" in result.reason and "WNSEARCHDIR" in result.reason
    assert str(tmp_path / "nowhere") in result.reason
    from bench.metrics.report_task import score_report

    scored = score_report(["a b"], ["a b"], run_meteor=False, run_meteor_nltk=True)
    assert scored.metrics["meteor_nltk"].value is None
    assert scored.notes["unavailable"]["meteor_nltk"] == result.reason


def test_cluster_bootstrap_means_over_each_replicates_cases() -> None:
    """A replicate of whole clusters holds a varying number of cases; its mean divides by that number."""
    per_case = np.array([0.1, 0.9, 0.4, 0.4, 0.4, 0.7, 0.0])
    keys = ["a", "a", "b", "b", "b", "c", "d"]
    clusters = cluster_numbers(keys)
    reps = meteor_nltk_bootstrap(per_case, bootstrap_counts(7, 300, 5, clusters=clusters))
    members = [np.flatnonzero(clusters == c) for c in range(int(clusters.max()) + 1)]
    drawn = bootstrap_indices(len(members), 300, 5)
    expected = [per_case[np.concatenate([members[c] for c in row])].mean() for row in drawn]
    np.testing.assert_allclose(reps, expected, rtol=0, atol=1e-12)


@needs_wordnet
def test_cli_meteor_nltk_opt_in(tmp_path: Path) -> None:
    from cxrbench.cli import app

    gt, pred = tmp_path / "gt.jsonl", tmp_path / "pred.jsonl"
    gt.write_text(
        "".join(json.dumps({"id": str(i), "report": r[0]}) + "\n" for i, (r, _) in enumerate(REPORTS))
    )
    pred.write_text(
        "".join(json.dumps({"id": str(i), "report": h}) + "\n" for i, (_, h) in enumerate(REPORTS))
    )
    base = ["score", "--task", "report", "--gt", str(gt), "--pred", str(pred), "--no-meteor", "--quiet"]
    runner = CliRunner()
    result = runner.invoke(
        app, [*base, "--out", str(tmp_path / "on.json"), "--meteor-nltk", "--bootstrap", "200"]
    )
    assert result.exit_code == 0, result.output
    on = json.loads((tmp_path / "on.json").read_text())
    expected = meteor_nltk([r[0] for r, _ in REPORTS], [h for _, h in REPORTS])
    assert on["metrics"]["meteor_nltk"]["value"] == pytest.approx(expected.value, abs=1e-15)
    ci = percentile_ci(bootstrap_counts(5, 200, 0).astype(float) @ expected.per_case / 5)
    assert on["metrics"]["meteor_nltk"]["ci95"] == pytest.approx(list(ci), abs=1e-12)
    conventions = on["conventions"]["meteor_nltk"]
    assert conventions["parameters"] == {"alpha": 0.9, "beta": 3.0, "gamma": 0.5}
    assert conventions["nltk_version"] == nltk_version()
    assert conventions["wordnet"]["version"] == "3.0" and conventions["wordnet"]["path"] == str(wordnet_dir())
    assert on["settings"]["meteor_nltk"] is True
    assert (
        on["metrics"]["meteor"]["value"] is None
    )  # METEOR 1.5 is a different metric, never filled from NLTK
    result = runner.invoke(app, [*base, "--out", str(tmp_path / "off.json"), "--bootstrap", "0"])
    off = json.loads((tmp_path / "off.json").read_text())
    assert "meteor_nltk" not in off["metrics"] and "meteor_nltk" not in off["settings"]


def nltk_version() -> str:
    from importlib.metadata import version

    return version("nltk")
