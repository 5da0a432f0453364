"""Significance that can fire: replicates sized to the Holm family, families declared by the spec, tests that
cannot reach alpha saying so, and untestable METEOR cells pointing to no comparison file."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import _rle, make_run, write_all_tasks

from bench.metrics.report.meteor_nltk import wordnet_missing
from bench.metrics.significance import holm, paired_bootstrap_result, randomization_result
from bench.records import write_records
from leaderboards.cli import table_command, verify_command
from leaderboards.significance import p_floor, replicates_needed
from leaderboards.specs import Significance, SpecError, load_spec

BENCHMARKS = ("jsrt", "shenzhen", "montgomery", "chestx-det", "vindr-cxr", "tbx11k")
SIZE = 64


def _dice_data(folder: Path, n: int) -> dict[str, Path]:
    """Ground truth lung masks; 'good' overlaps each by Dice 0.875 (rows shifted by 4 of 32), 'empty' predicts
    nothing (Dice 0 wherever the ground truth is not empty)."""
    truth, good, empty = [], [], []
    for i in range(n):
        top = 4 + i % 8
        mask = np.zeros((SIZE, SIZE), bool)
        mask[top : top + 32, 10:30] = True
        shifted = np.zeros_like(mask)
        shifted[top + 4 : top + 36, 10:30] = True
        image = {"width": SIZE, "height": SIZE}
        truth.append({"id": f"s{i:03d}", "image": image, "masks": {"left lung": _rle(mask)}})
        good.append({"id": f"s{i:03d}", "masks": {"left lung": _rle(shifted)}})
        empty.append({"id": f"s{i:03d}", "masks": {"left lung": _rle(np.zeros_like(mask))}})
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, records in (("gt", truth), ("good", good), ("empty", empty)):
        write_records(folder / f"{name}.jsonl", records)
        paths[name] = folder / f"{name}.jsonl"
    return paths


def _dice_spec(significance: str) -> str:
    columns = "\n".join(
        f"  - {{id: {b}, benchmark: {b}, task: segmentation, metric: dice_mean, mode: zero-shot}}"
        for b in BENCHMARKS
    )
    return (
        f"significance: {{{significance}}}\ncolumns:\n{columns}\n"
        "rows: [{id: good, model: 'good:*'}, {id: empty, model: 'empty:*'}]\n"
    )


@pytest.fixture(scope="module")
def dice_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("dice")
    data = _dice_data(root / "data", 40)
    for benchmark in BENCHMARKS:
        for name in ("good", "empty"):
            make_run(
                root / "runs", f"{benchmark}-{name}", model=f"{name}:w", dataset=benchmark, gt=data["gt"],
                pred=data[name], tasks=("segmentation",), n_boot=20,
            )  # fmt: skip
    return root


def _build(root: Path, name: str, significance: str) -> dict:
    (root / f"{name}.yaml").write_text(_dice_spec(significance))
    assert table_command(root / f"{name}.yaml", [root / "runs"], root / name) == 0
    return json.loads((root / name / "cells.json").read_text())


def _good_cells(cells: dict) -> list[dict]:
    return [c for c in cells["cells"] if c["row"] == "good"]


def test_dice_0875_vs_0_fires_in_a_six_test_table_with_the_demo_replicates(dice_runs: Path) -> None:
    cells = _build(dice_runs, "table-family", "n_boot: 200, seed: 0")  # the demo spec's 200; family: table
    good = _good_cells(cells)
    assert len(good) == 6
    values = {c["value"] for c in good} | {c["value"] for c in cells["cells"] if c["row"] == "empty"}
    assert values == {0.875, 0.0}
    for cell in good:
        test = cell["test"]
        # m = 6: the smallest B with 6 * 2 / (B + 1) < 0.05 / 10 is 2400; every replicate favours good: p = 2 / 2401
        assert (test["family"], test["family_size"], test["replicates"]) == ("table", 6, 2400)
        assert test["p_value"] == pytest.approx(2 / 2401, rel=1e-12)
        assert test["p_holm"] == pytest.approx(6 * 2 / 2401, rel=1e-12) and test["p_holm"] < 0.05
        assert cell["significant"] and test["reason"] is None
    md = (dice_runs / "table-family" / "table.md").read_text()
    body = [line for line in md.splitlines() if line.startswith("| ")]  # row or transposed layout alike
    assert sum(line.count("0.875 [0.875, 0.875]**†") for line in body) == 6
    assert not any("0.000 [0.000, 0.000]†" in line for line in body)
    note = cells["footnotes"][-1]
    assert "Holm family: all tests of the table" in note and "m = 6 tests per family, B = 2400" in note
    assert verify_command(table=dice_runs / "table-family") == 0


def test_a_capped_replicate_count_says_the_test_cannot_reach_alpha(dice_runs: Path) -> None:
    cells = _build(dice_runs, "capped", "n_boot: 200, max_replicates: 200")
    for cell in _good_cells(cells):
        assert not cell["significant"] and cell["test"]["replicates"] == 200
        assert cell["test"]["min_adjusted_p"] == pytest.approx(6 * 2 / 201)
        assert cell["test"]["reason"].startswith("cannot reach alpha = 0.05: with 200 replicates (capped by")
    note = cells["footnotes"][-1]
    assert "6 test(s) cannot reach p < α whatever the data" in note
    assert "cannot reach p" in (dice_runs / "capped" / "table.md").read_text()


def test_a_column_family_holm_adjusts_within_each_column(dice_runs: Path) -> None:
    cells = _build(dice_runs, "column-family", "n_boot: 200, family: column")
    for cell in _good_cells(cells):
        test = cell["test"]
        assert (test["family"], test["family_size"]) == (f"column {cell['column']}", 1)
        assert test["replicates"] == 400 and test["p_holm"] == test["p_value"] == pytest.approx(2 / 401)
    assert "Holm family: the tests of each column" in cells["footnotes"][-1]


@pytest.mark.parametrize("alpha", [0.05, 0.01, 0.001])
@pytest.mark.parametrize("resolution", [1.0, 10.0])
def test_the_chosen_replicates_let_the_smallest_adjusted_p_fall_below_alpha(
    alpha: float, resolution: float
) -> None:
    """Property, through the real p-value and Holm functions: with B = replicates_needed(m), m tests whose every
    replicate lies on one side reach a Holm-adjusted p below alpha / resolution; with one replicate fewer they do
    not (B is the smallest that works), unless the spec's minimum n_boot already sets B."""
    sig = Significance(alpha=alpha, resolution=resolution, n_boot=1, n_perm=1, max_replicates=10**9)
    for m in (*range(1, 40), 99, 100, 101, 443, 444):
        for permutation in (False, True):
            b = replicates_needed(m, sig, permutation)
            if b > 1_000_000:  # keeps the replicate arrays small; the bound is linear in m
                continue
            if permutation:
                p = randomization_result(1.0, np.zeros(b), n_perm=b, seed=0)["p"]
                p_fewer = randomization_result(1.0, np.zeros(b - 1), n_perm=b - 1, seed=0)["p"]
            else:
                p = paired_bootstrap_result(1.0, np.ones(b), n_boot=b, seed=0)["p"]
                p_fewer = paired_bootstrap_result(1.0, np.ones(b - 1), n_boot=b - 1, seed=0)["p"]
            assert p == pytest.approx(p_floor(b, permutation), rel=1e-15)
            assert holm([p] * m).min() < alpha / resolution
            assert holm([p_fewer] * m).min() >= alpha / resolution * (1 - 1e-12)
    demo = Significance(alpha=0.05, n_boot=200)
    assert replicates_needed(14, demo) == 5600 and replicates_needed(1, demo) == 400
    assert replicates_needed(1, replace(demo, n_boot=1000)) == 1000  # n_boot is a minimum


def test_imt_cxr_with_two_models_can_fire_in_all_44_columns() -> None:
    spec = load_spec("imt-cxr")
    assert len(spec.columns) == 44 and spec.significance.family == "table"
    b = replicates_needed(44, spec.significance)
    assert b == 17600 and 44 * p_floor(b) < spec.significance.alpha


@pytest.mark.parametrize(
    ("significance", "message"),
    [
        ("family: row", "significance.family 'row' is not one of"),
        ("resolution: 0.5", "resolution must be at least 1"),
        ("alpha: 1.5", "alpha must lie in (0, 1)"),
        ("n_boot: 5000, max_replicates: 1000", "max_replicates (1000) is below n_boot"),
    ],
)
def test_bad_significance_settings_name_the_problem(tmp_path: Path, significance: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(_dice_spec(significance))
    with pytest.raises(SpecError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_spec(path)


def _report_runs(tmp_path: Path, metric: str, values: dict[str, float]) -> dict[str, Path]:
    """Report runs a and b on the same ground truth, with `metric` set in their results to `values` (METEOR needs
    Java, tens of seconds per run here; a table only reads the number, so it is set directly)."""
    data = write_all_tasks(tmp_path / "data", 12, 4, names=tuple(values))
    for name, value in values.items():
        run = make_run(tmp_path / "runs", name, model=f"{name}:w", dataset="mimic-cxr", gt=data["gt"],
                       pred=data[name], tasks=("report",))  # fmt: skip
        path = run / "results" / "report.json"
        results = json.loads(path.read_text())
        results["metrics"][metric] = {"value": value, "ci95": None}
        path.write_text(json.dumps(results, indent=2) + "\n")
    return data


def test_untested_meteor_cells_point_to_no_comparison_file(tmp_path: Path) -> None:
    _report_runs(tmp_path, "meteor", {"a": 0.31, "b": 0.27})
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "columns:\n"
        "  - {id: meteor, benchmark: mimic-cxr, task: report, metric: meteor, mode: zero-shot}\n"
        "  - {id: bleu, benchmark: mimic-cxr, task: report, metric: bleu4, mode: zero-shot}\n"
        "rows: [{id: a, model: 'a:*'}, {id: b, model: 'b:*'}]\n"
    )
    assert table_command(spec, [tmp_path / "runs"], tmp_path / "out") == 0
    cells = json.loads((tmp_path / "out" / "cells.json").read_text())
    meteor = next(c for c in cells["cells"] if c["column"] == "meteor/zero-shot" and c["test"])
    bleu = next(c for c in cells["cells"] if c["column"] == "bleu/zero-shot" and c["test"])
    assert meteor["value"] is not None and meteor["test"]["p_value"] is None
    assert meteor["test"]["comparison_file"] is None and "METEOR needs Java" in meteor["test"]["reason"]
    assert (tmp_path / "out" / bleu["test"]["comparison_file"]).is_file()
    assert [p.name for p in (tmp_path / "out" / "comparisons").iterdir()] == [
        Path(bleu["test"]["comparison_file"]).name
    ]
    # one testable pair in the table family; the untested one is counted in the footnote
    assert bleu["test"]["family_size"] == 1 and "1 adjacent pair(s) not tested" in cells["footnotes"][-1]


@pytest.mark.skipif(wordnet_missing() is not None, reason=wordnet_missing() or "")
def test_meteor_nltk_cells_are_tested_on_the_per_report_scores(tmp_path: Path) -> None:
    """NLTK's METEOR is a mean of per-report scores: the table tests it through compare (METEOR 1.5 it does not)."""
    from bench.run.compare import compare_files

    data = _report_runs(tmp_path, "meteor_nltk", {"a": 0.3, "b": 0.2})
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "columns:\n"
        "  - {id: mn, benchmark: mimic-cxr, task: report, metric: meteor_nltk, mode: zero-shot}\n"
        "rows: [{id: a, model: 'a:*'}, {id: b, model: 'b:*'}]\n"
        "significance: {test: paired_bootstrap, n_boot: 1000}\n"
    )
    assert table_command(spec, [tmp_path / "runs"], tmp_path / "out") == 0
    cells = json.loads((tmp_path / "out" / "cells.json").read_text())
    tested = next(c for c in cells["cells"] if c["column"] == "mn/zero-shot" and c["test"])["test"]
    assert tested["reason"] is None and tested["method"].startswith("paired case bootstrap")
    comparison = json.loads((tmp_path / "out" / tested["comparison_file"]).read_text())
    direct = compare_files("report", data["gt"], data["a"], data["b"], tmp_path / "c.json", metrics=["meteor_nltk"],
                           n_boot=tested["replicates"], n_perm=0, seed=0, cluster="image")  # fmt: skip
    assert tested["p_value"] == direct["comparisons"]["meteor_nltk"]["paired_bootstrap"]["p_value"]
    assert comparison["comparisons"] == json.loads((tmp_path / "c.json").read_text())["comparisons"]


def test_a_bootstrap_column_footnote_does_not_also_say_no_bootstrap_ci(dice_runs: Path) -> None:
    cells = _build(dice_runs, "footnote", "n_boot: 200")
    convention = cells["footnotes"][0]
    assert "95 % CI: bootstrap over images (40 images), 20 replicates, seed 0" in convention
    assert "no bootstrap CI" not in convention
