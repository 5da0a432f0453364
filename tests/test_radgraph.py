"""RadGraph F1 against the `radgraph` package (0.1.18) on the same random-weight model folder, offline.

No real RadGraph weights exist here: a tiny BERT and a DyGIE model folder in the published layout are written by
`bench.metrics.report.radgraph_fixture`; the package loads that folder with ``strict=True`` (so the layout is
right) and must give the same graphs and rewards as cxrbench. The package's hub download is replaced by a function
that fails, and HF_HUB_OFFLINE is set, so nothing can be fetched. radgraph 0.1.18 still calls two tokenizer methods
that transformers 5 removed (`encode_plus`, `build_inputs_with_special_tokens`); the `reference` fixture maps them
to their transformers-5 equivalents for BERT (the call itself; [CLS] ids [SEP]).
"""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from bench.metrics.bootstrap import bootstrap_indices, percentile_ci
from bench.metrics.report.radgraph import RadGraphScorer
from bench.metrics.report.radgraph_fixture import write_bert_folder, write_random_radgraph
from bench.metrics.report.radgraph_infer import GraphExtractor, RadGraphInputError
from bench.metrics.report.radgraph_model import RadGraphFolderError
from bench.metrics.report.radgraph_rewards import radgraph_combined, radgraph_rewards
from bench.metrics.report.radgraph_text import report_words
from cxrbench.cli import app

runner = CliRunner()

REFS = [
    "No acute cardiopulmonary abnormality.",
    "Mild cardiomegaly with small left pleural effusion.",
    "Endotracheal tube terminates 2 cm above the carina. Bibasilar opacities likely represent atelectasis.",
    "The lungs are clear. No pneumothorax or pleural effusion. Heart size is normal (stable).",
    "Left-sided PICC terminates at the cavo-atrial junction; s/p CABG.",
    "Unchanged mild pulmonary edema, no radiographic evidence of pneumonia.",
    "no evidence of acute cardiopulmonary process moderate hiatal hernia",
    "Right upper lobe nodule, 5 mm. Recommend follow-up CT in 6-12 months.",
    "Stable appearance of the chest. Lines and tubes unchanged. Small bilateral effusions.",
    "a",
]
HYPS = [
    "No acute cardiopulmonary process.",
    "Mild cardiomegaly and small left pleural effusion.",
    "ET tube 2 cm above the carina. Bibasilar atelectasis.",
    "The lungs are clear. No pneumothorax. Heart size is normal.",
    "PICC at the cavo-atrial junction.",
    "",
    "no evidence of acute cardiopulmonary process moderate hiatal hernia",
    "Right upper lobe nodule. Follow-up CT recommended.",
    "Small bilateral effusions. Lines and tubes unchanged. Stable chest.",
    "Mild edema.",
]


def _vocabulary_words() -> list[str]:
    words = {w.lower() for t in REFS + HYPS for w in report_words(t, "radgraph")}
    return sorted(words)[::2]  # half the words: the rest become wordpieces or [UNK]


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("radgraph")
    bert = write_bert_folder(root / "bert", _vocabulary_words())
    model = write_random_radgraph(root / "cache" / "radgraph", bert, max_length=16, ner_bias=-0.5)
    unsplit = write_random_radgraph(root / "nolimit" / "radgraph", bert, max_length=None, ner_bias=-0.5)
    return {"root": root, "bert": bert, "model": model, "unsplit": unsplit}


@pytest.fixture(scope="module")
def reference(folders: dict[str, Path]) -> Any:
    """The package's F1RadGraph on the fixture folder, with its hub download disabled."""
    pytest.importorskip("radgraph")
    mp = pytest.MonkeyPatch()
    mp.setenv("HF_HUB_OFFLINE", "1")
    from transformers.tokenization_utils_base import PreTrainedTokenizerBase

    if not hasattr(PreTrainedTokenizerBase, "encode_plus"):
        mp.setattr(PreTrainedTokenizerBase, "encode_plus", lambda self, *a, **k: self(*a, **k), raising=False)
    if not hasattr(PreTrainedTokenizerBase, "build_inputs_with_special_tokens"):
        mp.setattr(
            PreTrainedTokenizerBase,
            "build_inputs_with_special_tokens",
            lambda self, a, b=None: [self.cls_token_id, *a, self.sep_token_id],
            raising=False,
        )
    import radgraph.radgraph as package

    def no_download(**kwargs: Any) -> str:
        raise AssertionError(f"the radgraph package tried to download {kwargs}")

    mp.setattr(package, "download_model", no_download)
    f1 = package.F1RadGraph(
        reward_level="all", model_type="radgraph", model_cache_dir=str(folders["model"].parent), cuda=-1
    )
    yield f1
    mp.undo()


def _scorer(folder: Path, cache: Path, batch_size: int = 4) -> RadGraphScorer:
    return RadGraphScorer.load(folder, batch_size=batch_size, cache_dir=cache)


# ---------------------------------------------------------------- rewards on hand-made graphs


def _random_graph(rng: random.Random) -> dict[str, Any]:
    tokens = ["effusion", "Effusion", "left", "lung", "heart", "Heart", "tube"]
    labels = ["OBS-DP", "ANAT-DP", "OBS-DA"]
    n = rng.randint(0, 5)
    entities = {}
    for k in range(n):
        rels = [
            [rng.choice(["located_at", "modify"]), str(rng.randint(1, n))] for _ in range(rng.randint(0, 2))
        ]
        entities[str(k + 1)] = {"tokens": rng.choice(tokens), "label": rng.choice(labels), "relations": rels}
    return {"text": "", "entities": entities}


def test_rewards_equal_the_package_reward_function_on_hand_made_graphs() -> None:
    rewards = pytest.importorskip("radgraph.rewards")
    rng = random.Random(5)
    seen = set()
    for _ in range(400):
        hyp, ref = _random_graph(rng), _random_graph(rng)
        ours = radgraph_rewards(hyp, ref)
        assert ours == rewards.compute_reward(hyp, ref, "all")
        for level, value in zip(("simple", "partial", "complete"), ours, strict=True):
            assert value == rewards.compute_reward(hyp, ref, level)
        seen.add(len({round(v, 9) for v in ours}))
    assert 3 in seen  # the three levels do differ on some pairs


def test_reward_levels_on_a_hand_computed_pair() -> None:
    ref = {
        "entities": {
            "1": {"tokens": "effusion", "label": "OBS-DP", "relations": [["located_at", "2"]]},
            "2": {"tokens": "Left", "label": "ANAT-DP", "relations": []},
            "3": {"tokens": "heart", "label": "ANAT-DP", "relations": []},
        }
    }
    hyp = {
        "entities": {
            "1": {"tokens": "effusion", "label": "OBS-DP", "relations": [["located_at", "2"]]},
            "2": {"tokens": "left", "label": "ANAT-DP", "relations": []},
        }
    }
    # simple: hyp {(effusion,OBS), (left,ANAT)}, ref {(effusion,OBS), (Left,ANAT), (heart,ANAT)}: P 1/2, R 1/3
    # partial: effusion carries True on both sides: same sets shape, same 1 match
    # complete: (effusion, OBS, located_at, left) lower-cased on both sides matches; P 1/2, R 1/3
    f1 = 2 * (1 / 2) * (1 / 3) / (1 / 2 + 1 / 3)
    assert radgraph_rewards(hyp, ref) == pytest.approx((f1, f1, f1))
    assert radgraph_rewards({"entities": {}}, ref) == (0.0, 0.0, 0.0)
    # RadCliQ-v1 combined: entities 1 of (2, 3) -> F1 0.4; relations ((effusion,OBS),(left,ANAT)) vs
    # ((effusion,OBS),(Left,ANAT)): no match (case kept) -> 0; mean 0.2
    assert radgraph_combined(hyp, ref) == pytest.approx((f1 + 0.0) / 2)
    assert radgraph_combined({"entities": {}}, {"entities": {}}) == 0.0


def test_word_splitting_equals_the_package_preprocessing() -> None:
    utils = pytest.importorskip("radgraph.utils")
    texts = [*REFS, 'He said \\"no\\".\\nNew line 5%. (a).', "T11-T12; 2.5x3 cm /. left/right?"]
    for model_type in ("radgraph", "radgraph-xl", "echograph"):
        expected = [d["sentences"][0] for d in utils.preprocess_reports(texts, model_type)]
        assert [report_words(t, model_type) for t in texts] == expected


# ---------------------------------------------------------------- the model against the package


def test_graphs_and_rewards_equal_the_package_on_the_same_weights(
    folders: dict[str, Path], reference: Any, tmp_path: Path
) -> None:
    mean, rewards, _, _ = reference(refs=REFS, hyps=HYPS)
    expected = np.array(rewards).T
    for batch_size in (1, 4, 32):
        result = _scorer(folders["model"], tmp_path / f"cache{batch_size}", batch_size).f1(REFS, HYPS)
        np.testing.assert_array_equal(result.per_case, expected)
        assert result.means() == pytest.approx(dict(zip(result.means(), mean, strict=True)), abs=0)
    texts = [t for t in REFS + HYPS if t]
    theirs = reference.radgraph(texts)
    ours = _scorer(folders["model"], tmp_path / "graphs").graphs(texts)
    assert ours == [theirs[str(k)] for k in range(len(texts))]
    # the comparison means something: entities, relations, rewards strictly inside (0, 1), levels that differ
    assert sum(len(g["entities"]) for g in ours) > 3 * len(texts)
    assert sum(len(e["relations"]) for g in ours for e in g["entities"].values()) > len(texts)
    assert ((expected > 0) & (expected < 1)).any()
    assert (expected[:, 0] != expected[:, 2]).any()
    assert result.notes["split_reports"] > 0  # max_length 16 splits the long reports into segments


def test_radgraph_combined_is_computed_on_the_package_graphs(
    folders: dict[str, Path], reference: Any, tmp_path: Path
) -> None:
    scorer = _scorer(folders["model"], tmp_path)
    theirs = reference.radgraph(REFS + [h or "None" for h in HYPS])
    n = len(REFS)
    expected = [radgraph_combined(theirs[str(n + i)], theirs[str(i)]) if HYPS[i] else 0.0 for i in range(n)]
    np.testing.assert_array_equal(scorer.combined(REFS, HYPS), expected)
    assert any(0 < v < 1 for v in expected)


def test_reference_graphs_are_cached_per_corpus_on_disk(folders: dict[str, Path], tmp_path: Path) -> None:
    first = _scorer(folders["model"], tmp_path)
    result = first.f1(REFS, HYPS)
    files = list((tmp_path / "radgraph").rglob("*.json"))
    assert len(files) == 1 and json.loads(files[0].read_text())["model"] == first.folder.fingerprint
    again = RadGraphScorer(
        first.extractor, cache_dir=tmp_path
    )  # a new process: empty memory, same disk cache
    repeat = again.f1(REFS, HYPS)
    np.testing.assert_array_equal(repeat.per_case, result.per_case)
    scored = sum(1 for r, h in zip(REFS, HYPS, strict=True) if r and h)
    assert repeat.notes["reference_graphs_from_cache"] == scored
    assert again.graphs_run == len({h for r, h in zip(REFS, HYPS, strict=True) if r and h} - set(REFS))


# ---------------------------------------------------------------- bad input


def test_a_missing_or_wrong_folder_is_one_clear_error(folders: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(RadGraphFolderError, match="--radgraph"):
        RadGraphScorer.load(tmp_path / "missing")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_text("{}")
    with pytest.raises(RadGraphFolderError, match="weights.th"):
        RadGraphScorer.load(bad)
    (bad / "weights.th").write_bytes(b"not a state dict")
    (bad / "vocabulary").mkdir()
    with pytest.raises(RadGraphFolderError, match="config.json"):
        RadGraphScorer.load(bad)


def test_a_report_longer_than_the_transformer_without_max_length_is_named(folders: dict[str, Path]) -> None:
    from bench.metrics.report.radgraph_model import RadGraphNet, read_folder

    extractor = GraphExtractor(RadGraphNet(read_folder(folders["unsplit"])))
    long_report = " ".join(["effusion"] * 600)
    with pytest.raises(RadGraphInputError, match="report case7: .* 512 positions"):
        extractor(["ok report", long_report], names=["case1", "case7"])


# ---------------------------------------------------------------- score and compare


def _report_files(tmp_path: Path, hyps: list[str]) -> tuple[Path, Path]:
    gt, pred = tmp_path / "gt.jsonl", tmp_path / f"pred{abs(hash(tuple(hyps)))}.jsonl"
    with gt.open("w") as g, pred.open("w") as p:
        for i, (ref, hyp) in enumerate(zip(REFS, hyps, strict=True)):
            g.write(json.dumps({"id": f"r{i}", "report": ref, "meta": {"patient": f"p{i // 3}"}}) + "\n")
            p.write(json.dumps({"id": f"r{i}", "report": hyp}) + "\n")
    return gt, pred


def test_cli_score_reports_radgraph_f1_with_cluster_bootstrap_cis(
    folders: dict[str, Path], reference: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CXRBENCH_CACHE_DIR", str(tmp_path / "cache"))
    gt, pred = _report_files(tmp_path, HYPS)
    out = tmp_path / "results.json"
    args = ["score", "--task", "report", "--gt", str(gt), "--pred", str(pred), "--out", str(out)]
    result = runner.invoke(
        app, [*args, "--no-meteor", "--bootstrap", "200", "--radgraph", str(folders["model"])]
    )
    assert result.exit_code == 0, result.output
    body = json.loads(out.read_text())
    _, rewards, _, _ = reference(refs=REFS, hyps=HYPS)
    per_case = np.array(rewards).T
    patients = np.array([i // 3 for i in range(len(REFS))])
    drawn = bootstrap_indices(
        int(patients.max()) + 1, 200, 0
    )  # whole patients, as bootstrap_counts draws them
    for k, key in enumerate(("radgraph_f1_simple", "radgraph_f1_partial", "radgraph_f1_complete")):
        assert body["metrics"][key]["value"] == pytest.approx(per_case[:, k].mean(), abs=1e-15)
        # each replicate's mean is over its own drawn reports (patients differ in size)
        ci = percentile_ci(
            np.array([np.mean(np.concatenate([per_case[patients == c, k] for c in row])) for row in drawn])
        )
        assert body["metrics"][key]["ci95"] == pytest.approx(list(ci), abs=1e-15)
    conventions = body["conventions"]["radgraph"]
    assert conventions["model_sha256"] and conventions["max_span_width"] == 8
    assert body["settings"]["radgraph"] == str(folders["model"])

    missing = runner.invoke(app, [*args, "--no-meteor", "--radgraph", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "--radgraph" in missing.output and "Traceback" not in missing.output


def test_cli_compare_tests_radgraph_f1_on_per_report_rewards(
    folders: dict[str, Path], tmp_path: Path
) -> None:
    gt, pred_a = _report_files(tmp_path, HYPS)
    _, pred_b = _report_files(tmp_path, REFS[1:] + REFS[:1])
    out = tmp_path / "compare.json"
    result = runner.invoke(
        app,
        ["compare", "--task", "report", "--gt", str(gt), "--pred-a", str(pred_a), "--pred-b", str(pred_b),
         "--out", str(out), "--metrics", "radgraph_f1_partial,bleu4", "--bootstrap", "50", "--permutations", "50",
         "--radgraph", str(folders["model"])],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    body = json.loads(out.read_text())
    scorer = _scorer(folders["model"], tmp_path / "c")
    a = scorer.f1(REFS, HYPS).per_case[:, 1].mean()
    b = scorer.f1(REFS, REFS[1:] + REFS[:1]).per_case[:, 1].mean()
    assert body["comparisons"]["radgraph_f1_partial"]["a"] == pytest.approx(a, abs=1e-15)
    assert body["comparisons"]["radgraph_f1_partial"]["b"] == pytest.approx(b, abs=1e-15)
    assert body["settings"]["radgraph_sha256"] == scorer.folder.fingerprint
    assert "bleu4" in body["comparisons"]


def test_hand_made_graph_pairs_cover_every_relation_shape() -> None:
    """Self-relations and relations to entities later in the list score like any other tuple."""
    graph = {
        "entities": {
            "1": {"tokens": "tube", "label": "OBS-DP", "relations": [["modify", "1"], ["located_at", "2"]]},
            "2": {"tokens": "chest", "label": "ANAT-DP", "relations": []},
        }
    }
    assert radgraph_rewards(graph, graph) == (1.0, 1.0, 1.0)
    assert radgraph_combined(graph, graph) == 1.0
    for a, b in itertools.permutations([graph, {"entities": {"1": graph["entities"]["2"]}}], 2):
        assert 0 < radgraph_rewards(a, b)[0] < 1
