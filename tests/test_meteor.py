"""METEOR: the numpy re-aggregation of the jar's statistics against the METEOR 1.5 jar and pycocoevalcap."""

from __future__ import annotations

import random
import shutil
from types import SimpleNamespace

import numpy as np
import pytest

from bench.metrics.bootstrap import bootstrap_counts, bootstrap_indices
from bench.metrics.report import meteor, meteor_bootstrap, tokenize
from bench.metrics.report.meteor import MeteorJar, MeteorResult
from bench.metrics.report.meteor_aggregate import corpus_meteor, meteor_scores, parse_stats

needs_java = pytest.mark.skipif(shutil.which("java") is None, reason="java not installed")

FINDINGS = [
    "the heart size is normal .",
    "the cardiac silhouette is enlarged .",
    "there is a small left pleural effusion .",
    "small bilateral pleural effusions are present .",
    "no pneumothorax is seen .",
    "the lungs are clear without focal consolidation .",
    "mild pulmonary edema is unchanged .",
    "a 2.5 cm nodule projects over the right upper lobe .",
    "the endotracheal tube terminates 4 cm above the carina .",
    "degenerative changes of the thoracic spine are noted .",
    "there is left basilar atelectasis .",
    "no acute cardiopulmonary process .",
    "there is no evidence of pneumonia .",
    "the patient is rotated .",
]
# Word swaps that exercise METEOR's stem, synonym and paraphrase stages, not only exact matches.
REWRITES = {
    "effusion": "effusions",
    "effusions": "effusion",
    "enlarged": "large",
    "clear": "clean",
    "small": "little",
    "seen": "identified",
    "present": "noted",
    "unchanged": "stable",
    "noted": "seen",
    "terminates": "ends",
    "evidence": "sign",
    "above": "over",
}


def _hypothesis(reference: str, rng: random.Random) -> str:
    words = []
    for word in reference.split():
        roll = rng.random()
        if roll < 0.15:
            continue
        words.append(REWRITES.get(word, word) if roll < 0.55 else word)
    if rng.random() < 0.3:
        rng.shuffle(words)
    return " ".join(words)


def radiology_corpus(seed: int, n: int) -> tuple[list[list[str]], list[str]]:
    """Tokenised reports (as the pipeline sends them) with edge cases: empty and one-word hypotheses, identical
    pairs, an empty reference, several references, a hypothesis sharing no word with its reference."""
    rng = random.Random(seed)
    refs, hyps = [], []
    for _ in range(n):
        ref_sets = [" ".join(rng.sample(FINDINGS, rng.randint(1, 3))) for _ in range(rng.randint(1, 2))]
        refs.append(ref_sets)
        hyps.append(_hypothesis(ref_sets[0], rng))
    refs += [["no acute process ."], ["heart size normal"], ["the lungs are clear ."], [""], ["a b c"]]
    hyps += ["", "heart", "the lungs are clear .", "no effusion", "x y z"]
    # Stem + synonym and paraphrase matches for certain, then two identical pairs (kept last).
    refs += [["small bilateral pleural effusions ."], ["there is no evidence of pneumonia ."]]
    hyps += ["little bilateral pleural effusion .", "there is no sign of pneumonia ."]
    refs += [[FINDINGS[0]], [FINDINGS[4], FINDINGS[5]]]
    hyps += [FINDINGS[0], FINDINGS[5]]
    tokenised_refs = [[" ".join(t) for t in tokenize(rs)] for rs in refs]
    return tokenised_refs, [" ".join(t) for t in tokenize(hyps)]


class _QueuedStdout:
    """pycocoevalcap reads ``meteor_p.stdout.readline()``; after `MeteorJar` adopts the process, lines arrive
    through the jar's reader thread instead."""

    def __init__(self, jar: MeteorJar) -> None:
        self._jar = jar

    def readline(self) -> bytes:
        return (self._jar._read(1)[0] + "\n").encode()


@pytest.fixture(scope="module")
def shared_meteor():
    """One JVM for the whole module (loading METEOR's paraphrase table takes ~15 s): pycocoevalcap's ``Meteor``
    and our `MeteorJar` both drive it, one at a time."""
    if shutil.which("java") is None:
        pytest.skip("java not installed")
    from pycocoevalcap.meteor.meteor import Meteor

    reference = Meteor()
    process = reference.meteor_p
    jar = MeteorJar(timeout_s=240, process=process)
    reference.meteor_p = SimpleNamespace(
        stdin=process.stdin, stdout=_QueuedStdout(jar), kill=process.kill, wait=process.wait
    )
    yield SimpleNamespace(reference=reference, jar=jar)
    jar.close()


def _pycoco(reference, refs: list[list[str]], hyps: list[str], cases) -> tuple[float, list[float]]:
    gts = {j: refs[i] for j, i in enumerate(cases)}
    res = {j: [hyps[i]] for j, i in enumerate(cases)}
    return reference.compute_score(gts, res)


@needs_java
@pytest.mark.java
@pytest.mark.slow
def test_meteor_and_numpy_bootstrap_equal_pycocoevalcap_on_explicitly_resampled_lists(shared_meteor) -> None:
    refs, hyps = radiology_corpus(seed=0, n=30)
    n = len(hyps)
    ours = meteor(refs, hyps, tokenize_first=False, jar=shared_meteor.jar)
    ref_value, ref_cases = _pycoco(shared_meteor.reference, refs, hyps, range(n))
    assert ours.available and ours.value == pytest.approx(ref_value, abs=1e-12)
    np.testing.assert_allclose(ours.per_case, ref_cases, rtol=0, atol=1e-12)

    stats = parse_stats(ours.stats)
    # Every stage (exact, stem, synonym, paraphrase) must occur, or the module weights would go untested.
    assert all(stats[:, [4 + 4 * stage, 6 + 4 * stage]].sum() > 0 for stage in range(4))
    assert corpus_meteor(stats) == pytest.approx(ref_value, abs=1e-9)
    np.testing.assert_allclose(meteor_scores(stats), ref_cases, rtol=0, atol=1e-9)

    counts = bootstrap_counts(n, 4, seed=7)
    replicates = meteor_bootstrap(ours, counts)
    for b, chosen in enumerate(bootstrap_indices(n, 4, seed=7)):
        ref_replicate, _ = _pycoco(shared_meteor.reference, refs, hyps, chosen)
        assert replicates[b] == pytest.approx(ref_replicate, abs=1e-9)


@needs_java
@pytest.mark.java
@pytest.mark.slow
def test_numpy_aggregate_equals_jar_eval_on_many_replicates_and_edge_corpora(shared_meteor) -> None:
    jar = shared_meteor.jar
    refs, hyps = radiology_corpus(seed=1, n=40)
    result = meteor(refs, hyps, tokenize_first=False, jar=jar)
    counts = bootstrap_counts(len(hyps), 60, seed=3)
    empty, unmatched = hyps.index(""), hyps.index("x y z")
    counts[:3] = 0
    counts[0, -2:] = 5  # only identical pairs: their chunks are not summed, so the corpus score is exactly 1
    counts[1, empty] = 3  # only an empty hypothesis: 0/0 everywhere
    counts[2, [unmatched, -1]] = 1  # no word in common plus an identical pair
    via_numpy = meteor_bootstrap(result, counts)
    via_jar = meteor_bootstrap(result, counts, jar=jar, via_jar=True)
    np.testing.assert_allclose(via_numpy, via_jar, rtol=0, atol=1e-9)
    assert via_jar[0] == 1.0 and via_jar[1] == 0.0

    # Degenerate whole corpora, straight from the jar's statistics.
    edge_refs = [["a"], [""], ["the heart"], ["no"], ["x y"]]
    edge_hyps = ["a", "", "heart the", "", "y"]
    edge = meteor(edge_refs, edge_hyps, tokenize_first=False, jar=jar)
    np.testing.assert_allclose(meteor_scores(parse_stats(edge.stats)), edge.per_case, rtol=0, atol=1e-9)
    assert corpus_meteor(parse_stats(edge.stats)) == pytest.approx(edge.value, abs=1e-9)
    for chosen in ([1], [1, 3], [0], [0, 0, 2], [4, 1]):
        stats = [edge.stats[i] for i in chosen]
        _, jar_value = jar.evaluate(stats)
        assert corpus_meteor(parse_stats(stats)) == pytest.approx(jar_value, abs=1e-9)


def _stats_line(
    test_len: int, ref_len: int, exact: int, chunks: int, test_fn: int = 0, ref_fn: int = 0, fn_exact: int = 0
) -> str:
    stages = [exact, exact, fn_exact, fn_exact] + [0] * 12
    numbers = [test_len, ref_len, test_fn, ref_fn, *stages, chunks, exact + fn_exact, exact + fn_exact]
    return " ".join(f"{float(x)}" for x in numbers)


def test_formula_on_hand_computed_segments() -> None:
    # The jar's header for "-l en -norm": Parameters 0.85 0.2 0.6 0.75 (alpha beta gamma delta).
    alpha, beta, gamma = 0.85, 0.2, 0.6
    # 2 of 4 content words matched exactly, in 2 chunks: P = R = 2/4, Fmean = 0.5, frag = 2 / 2 = 1.
    assert meteor_scores(parse_stats([_stats_line(4, 4, 2, 2)]))[0] == pytest.approx(
        0.5 * (1 - gamma), abs=1e-15
    )
    # P = 3/3, R = 3/6: Fmean = 1 / ((1 - alpha) / 1 + alpha / 0.5); one chunk over 3 matches.
    expected = 1 / ((1 - alpha) + alpha / 0.5) * (1 - gamma * (1 / 3) ** beta)
    assert meteor_scores(parse_stats([_stats_line(3, 6, 3, 1)]))[0] == pytest.approx(expected, abs=1e-15)
    # Function words weigh 1 - delta = 0.25, content words delta = 0.75: test side 1 content + 1 function word,
    # only the function word matched, so P = 0.25 / 1.0 and R = 0.25 / 0.25 (reference is that function word).
    expected = 1 / ((1 - alpha) / 0.25 + alpha / 1.0) * (1 - gamma)
    line = _stats_line(2, 1, 0, 1, test_fn=1, ref_fn=1, fn_exact=1)
    assert meteor_scores(parse_stats([line]))[0] == pytest.approx(expected, abs=1e-15)
    # Identical pair (one chunk, all matched): no fragmentation penalty. No match or no words: 0, not NaN.
    scores = meteor_scores(
        parse_stats([_stats_line(5, 5, 5, 1), _stats_line(3, 2, 0, 0), _stats_line(0, 0, 0, 0)])
    )
    np.testing.assert_array_equal(scores, [1.0, 0.0, 0.0])


def test_replicates_are_reweighted_sums_of_segment_statistics() -> None:
    rng = np.random.default_rng(0)
    lines = []
    for _ in range(25):
        test_len, ref_len = rng.integers(0, 30, size=2)
        exact = int(rng.integers(0, min(test_len, ref_len) + 1))
        lines.append(_stats_line(test_len, ref_len, exact, int(rng.integers(min(exact, 1), exact + 1))))
    lines += [_stats_line(6, 6, 6, 1), _stats_line(2, 2, 2, 1)]
    stats = parse_stats(lines)
    result = MeteorResult(value=None, per_case=None, available=True, stats=tuple(lines))
    counts = bootstrap_counts(len(lines), 50, seed=2)
    replicates = meteor_bootstrap(result, counts)
    for b in (0, 17, 49):
        expanded = np.repeat(stats, counts[b], axis=0)
        assert replicates[b] == pytest.approx(corpus_meteor(expanded), abs=1e-12)
    # A corpus of one segment repeated k times scores as that segment (fragmentation is scale free), and
    # every case once is the point estimate.
    single = np.zeros((1, len(lines)), dtype=np.int64)
    single[0, 3] = 4
    assert meteor_bootstrap(result, single)[0] == pytest.approx(meteor_scores(stats[3]), abs=1e-12)
    assert meteor_bootstrap(result, np.ones((1, len(lines))))[0] == pytest.approx(
        corpus_meteor(stats), abs=1e-15
    )
    # Perfect segments add no chunks, so a corpus of only identical pairs scores exactly 1.
    perfect = np.zeros((1, len(lines)), dtype=np.int64)
    perfect[0, -2:] = [1, 3]
    assert meteor_bootstrap(result, perfect)[0] == 1.0
    with pytest.raises(ValueError):
        meteor_bootstrap(result, np.ones((2, len(lines) - 1)))


def test_meteor_is_unavailable_without_java(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    meteor_module = importlib.import_module("bench.metrics.report.meteor")
    monkeypatch.setattr(meteor_module.shutil, "which", lambda name: None)
    result = meteor(["no effusion"], ["no effusion"])
    assert not result.available and result.value is None and "java" in result.reason
    assert meteor_bootstrap(result, np.ones((2, 1))) is None
