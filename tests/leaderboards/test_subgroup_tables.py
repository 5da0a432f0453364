"""Subgroup tables (spec `subgroups:`) and calibration columns, against the hand-written fixture numbers of
subgroup_fixtures.py: cells.json, the four formats (LaTeX compiled by pdflatex), bold by direction, and the spec
checks."""

from __future__ import annotations

import csv
import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from subgroup_fixtures import SPEC, build_fixture
from test_latex_compile import compile_table, needs_tex

from leaderboards.cli import table_command
from leaderboards.directions import CALIBRATION_FAMILIES, metric_direction
from leaderboards.specs import SpecError, load_spec


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("subgroup-table")
    runs = build_fixture(root)
    assert table_command(root / "spec.yaml", [runs], root / "out") == 0
    return root / "out"


def _subgroup_cells(out: Path) -> dict[tuple[str, str, str, str], dict]:
    data = json.loads((out / "cells.json").read_text())
    (sub,) = data["subgroup_tables"]
    return {(c["field"], c["kind"], c["group"], c["row"]): c for c in sub["cells"]}


def test_cells_json_holds_the_fixture_numbers(out: Path) -> None:
    cells = _subgroup_cells(out)
    f_a = cells[("sex", "group", "F", "a")]
    assert (f_a["value"], f_a["ci95"], f_a["n"], f_a["small"]) == (0.812, [0.79, 0.834], 31, False)
    assert (f_a["gap"], f_a["p_holm"], f_a["significant"]) == (-0.021, 0.024, True)  # 0.024 < 0.05
    m_a = cells[("sex", "group", "M", "a")]
    assert (m_a["small"], m_a["p_holm"], m_a["significant"]) == (True, 0.06, False)  # 0.06 >= 0.05
    assert cells[("age_bin", "group", "unknown", "a")]["value"] is None
    assert "undefined in this group" in cells[("age_bin", "group", "unknown", "a")]["reason"]
    gap = cells[("sex", "fpr_gap", "F − M", "a")]
    assert (gap["value"], gap["ci95"], gap["significant"]) == (-0.18, [-0.33, -0.03], True)
    assert cells[("sex", "fpr", "M", "b")]["value"] == 0.2 and cells[("sex", "fpr", "M", "b")]["n"] == 21
    results_a = json.loads((out.parent / "runs" / "a" / "results" / "classification.json").read_text())
    overall = cells[("sex", "overall", "All", "a")]
    assert overall["value"] == results_a["metrics"]["auc_macro"]["value"] and overall["n"] == 60
    data = json.loads((out / "cells.json").read_text())["subgroup_tables"][0]
    assert data["rows"] == ["a", "b"] and data["left_out"][0][0] == "c"  # c was scored without --subgroups
    assert "no subgroups" in data["left_out"][0][1]


def test_markdown_rows_show_value_ci_n_small_and_gap_markers(out: Path) -> None:
    md = (out / "subgroups.md").read_text()
    assert "| F | 31 | 0.812 [0.790, 0.834] | -0.021‡ | 0.701 [0.650, 0.750] | +0.004 |" in md
    assert "| M§ | 29 | 0.853 [0.821, 0.880] | +0.020 | 0.690 [0.620, 0.760] | -0.007 |" in md
    assert "| unknown§ | 15 | —<sup>a</sup> |  | 0.710 [0.600, 0.800] | +0.013 |" in md
    assert "| F − M |  | -0.180 [-0.330, -0.030]‡ | 0.050 [-0.100, 0.200] |" in md
    assert "| F | 22 | 0.120 [0.050, 0.200] | 0.250 [0.100, 0.400] |" in md
    assert "Holm-adjusted p (p_holm of the results file) < α = 0.05" in md
    assert "Not in this subgroup table: Model C" in md
    assert "subgroups · auc_macro — age_bin: {rule=decades-80" in md and "1000 replicates, seed 0" in md


def test_csv_has_every_subgroup_cell_at_full_precision(out: Path) -> None:
    rows = list(csv.DictReader(io.StringIO((out / "subgroups.csv").read_text())))
    assert len(rows) == len(_subgroup_cells(out)) == 20
    f_a = next(r for r in rows if (r["field"], r["group"], r["row"], r["kind"]) == ("sex", "F", "a", "group"))
    assert (f_a["value"], f_a["gap_to_overall"], f_a["p_holm"], f_a["significant"], f_a["small"]) == (
        "0.812", "-0.021", "0.024", "1", "0")  # fmt: skip
    assert f_a["source"].endswith(
        "runs/a/results/classification.json#subgroups.fields.sex.groups[0].metrics.auc_macro"
    )


def test_html_is_self_contained_and_draws_each_block(out: Path) -> None:
    page = (out / "subgroups.html").read_text()

    class Tags(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.open: list[str] = []
            self.external = False

        def handle_starttag(self, tag: str, attrs: list) -> None:
            self.external |= any(k in ("src", "href") for k, _ in attrs)
            if tag not in ("meta", "br"):
                self.open.append(tag)

        def handle_endtag(self, tag: str) -> None:
            assert self.open.pop() == tag

    parser = Tags()
    parser.feed(page)
    assert parser.open == [] and not parser.external
    assert re.findall(r'data-block="([^"]+)"', page) == [
        "fair-auc/sex/metric",
        "fair-auc/sex/fpr",
        "fair-auc/age_bin/metric",
    ]
    assert '<td>M<sup>§</sup></td><td class="num">29</td>' in page
    assert '<td class="num" title="p_holm = 0.024">-0.021‡</td>' in page


@needs_tex
def test_latex_of_both_tables_compiles_and_fits(out: Path, tmp_path: Path) -> None:
    for name in ("subgroups.tex", "table.tex"):
        tex = (out / name).read_text()
        assert r"\toprule" in tex and "S[table-format=" in tex and r"\resizebox" not in tex
        log = compile_table(tex, tmp_path / name)
        problems = re.findall(r"^(Overfull \\hbox.*|LaTeX Warning: Float too large.*|! .*)$", log, re.M)
        assert problems == [], (name, problems)
    tex = (out / "subgroups.tex").read_text()
    assert r"M\textsuperscript{\S} & 29 & 0.853 & +0.020 & 0.690 & -0.007 \\" in tex
    assert r"F & 31 & 0.812 & -0.021\rlap{$^{\ddagger}$} & 0.701 & +0.004 \\" in tex


def test_calibration_columns_bold_by_their_direction(out: Path) -> None:
    """Brier and ECE: lowest; slope: closest to 1; intercept: closest to 0 (values from the results files)."""
    values = {}
    for row in "abc":
        results = json.loads((out.parent / "runs" / row / "results" / "classification.json").read_text())
        values[row] = {m: results["metrics"][m]["value"] for m in
                       ("brier_macro", "ece_macro", "calibration_slope_macro", "calibration_intercept_macro")}  # fmt: skip
    expected = {
        "brier": min("abc", key=lambda r: values[r]["brier_macro"]),
        "ece": min("abc", key=lambda r: values[r]["ece_macro"]),
        "slope": min("abc", key=lambda r: abs(values[r]["calibration_slope_macro"] - 1)),
        "icpt": min("abc", key=lambda r: abs(values[r]["calibration_intercept_macro"])),
    }
    highest_slope = max("abc", key=lambda r: values[r]["calibration_slope_macro"])
    assert expected["slope"] != highest_slope  # the fixture separates "closest to 1" from "highest"
    cells = json.loads((out / "cells.json").read_text())["cells"]
    for column, row in expected.items():
        bold = [c["row"] for c in cells if c["column"] == f"{column}/zero-shot" and c["bold"]]
        assert bold == [row], (column, bold, values)
    slope = next(
        c for c in json.loads((out / "cells.json").read_text())["columns"] if c["key"] == "slope/zero-shot"
    )
    assert slope["target"] == 1.0
    md = (out / "table.md").read_text()
    assert (
        "lower is better in Brier, ECE; closest to the ideal value is best in Cal. slope (1), Cal. intercept (0)"
        in md
    )
    # Brier is tested like any lower-is-better column (bench.run.compare); slope is not: A - B would not say
    # which is closer to 1
    brier_tests = [c["test"] for c in cells if c["column"] == "brier/zero-shot" and c["test"]]
    assert brier_tests and all(t.get("reason") is None and t["p_value"] < 0.05 for t in brier_tests), (
        brier_tests
    )
    slope_reasons = [c["test"]["reason"] for c in cells if c["column"] == "slope/zero-shot" and c["test"]]
    assert slope_reasons and all("closest to their ideal value" in r for r in slope_reasons)


def test_directions_are_decided_in_one_place() -> None:
    from bench.metrics.calibration import METRICS

    assert CALIBRATION_FAMILIES == METRICS
    assert metric_direction("brier_macro").lower_is_better and metric_direction("ece/Edema").lower_is_better
    assert metric_direction("calibration_slope_macro").target == 1.0
    assert metric_direction("calibration_intercept/Edema").target == 0.0
    assert not metric_direction("auc_macro").lower_is_better and metric_direction("auc_macro").target is None
    assert metric_direction("hd95_mm_mean").lower_is_better and metric_direction("radcliq_v1").lower_is_better
    spec = load_spec("fairness")
    assert {c.key: c.target for c in spec.columns}["chexpert-intercept/zero-shot"] == 0.0
    assert [s.column for s in spec.subgroups] == ["chexpert-auc/zero-shot", "mimic-cxr-auc/zero-shot"]


@pytest.mark.parametrize(
    ("subgroups", "message"),
    [
        ("[{id: s, column: nope/zero-shot}]", "is not a leaf column key"),
        ("[{column: auc/zero-shot}]", "missing 'id'"),
        ("[{id: s, column: auc/zero-shot, fields: sex}]", "fields must be a non-empty list"),
        ("[{id: s, column: auc/zero-shot, felds: [sex]}]", "unknown key"),
        (
            "[{id: s, column: auc/zero-shot}, {id: s, column: brier/zero-shot}]",
            "duplicate subgroup table ids",
        ),
    ],
)
def test_bad_subgroup_specs_name_the_problem(tmp_path: Path, subgroups: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(SPEC.split("subgroups:")[0] + f"subgroups: {subgroups}\n")
    with pytest.raises(SpecError, match=message):
        load_spec(path)


def test_target_and_lower_is_better_together_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("columns: [{id: s, benchmark: b, task: classification, metric: calibration_slope_macro, "
                    "mode: zero-shot, lower_is_better: true, target: 1}]\nrows: [{id: m, model: 'x:*'}]\n")  # fmt: skip
    with pytest.raises(SpecError, match="either lower_is_better or target"):
        load_spec(path)


def test_models_with_different_groups_are_refused_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = build_fixture(tmp_path)
    path = runs / "b" / "results" / "classification.json"
    results = json.loads(path.read_text())
    results["subgroups"]["fields"]["sex"]["groups"][0]["n"] = 30  # b scored with other subgroup settings
    path.write_text(json.dumps(results, indent=2) + "\n")
    assert table_command(tmp_path / "spec.yaml", [runs], tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "subgroup table fair-auc: group sex=F has n = 31 for Model A but n = 30 for Model B" in err
    assert not (tmp_path / "out" / "subgroups.md").exists()


def test_a_table_without_subgroups_or_targets_keeps_its_cells_json_shape(tmp_path: Path) -> None:
    runs = build_fixture(tmp_path)
    spec = tmp_path / "plain.yaml"
    spec.write_text(SPEC.split("  - {id: brier")[0] + "rows: [{id: a, model: 'a:*'}]\n")
    assert table_command(spec, [runs], tmp_path / "out") == 0
    data = json.loads((tmp_path / "out" / "cells.json").read_text())
    assert "subgroup_tables" not in data and "subgroups" not in data["spec"]
    assert all("target" not in c for c in data["columns"])
    assert not (tmp_path / "out" / "subgroups.md").exists()


def test_a_table_from_bench_subgroup_scoring_verifies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """End to end with the engine's own --subgroups (bench.run.subgroups): the table draws its numbers and
    `verify --table` recomputes the results files, subgroups included (exit 0)."""
    import shutil

    import numpy as np

    from bench.records import write_records
    from bench.run.score import ScoreSettings, score_files
    from leaderboards.cli import verify_command

    rng = np.random.default_rng(0)
    labels, n = ["Cardiomegaly", "Edema", "No Finding"], 120
    y = (rng.random((n, 3)) < 0.4).astype(int)
    gt = [{"id": f"c{i}", "labels": dict(zip(labels, map(int, y[i]), strict=True)),
           "meta": {"patient": f"p{i // 2}", "sex": "F" if i % 3 else "M", "age": float(20 + (i * 7) % 70)}}
          for i in range(n)]  # fmt: skip
    write_records(tmp_path / "gt.jsonl", gt)
    for name, strength in (("a", 0.5), ("b", 0.2)):
        scores = np.clip(strength * y + (1 - strength) * rng.random((n, 3)), 0, 1).round(4)
        run = tmp_path / "runs" / name
        (run / "results").mkdir(parents=True)
        shutil.copyfile(tmp_path / "gt.jsonl", run / "gt.jsonl")
        write_records(run / "predictions.jsonl", [{"id": f"c{i}", "labels": dict(zip(labels, map(float, scores[i]),
                                                  strict=True))} for i in range(n)])  # fmt: skip
        settings = ScoreSettings(n_boot=50, seed=0, subgroups=["sex", "age_bin"])
        score_files("classification", run / "gt.jsonl", run / "predictions.jsonl",
                    run / "results" / "classification.json", settings)  # fmt: skip
        manifest = {
            "model": {"spec": f"{name}:w"},
            "dataset": {"name": "chexpert"},
            "mode": "zero-shot",
            "seed": 0,
        }
        (run / "manifest.json").write_text(json.dumps(manifest))
    spec = tmp_path / "spec.yaml"
    spec.write_text("significance: {n_boot: 30, family: table}\n"
                    "columns: [{id: auc, benchmark: chexpert, task: classification, metric: auc_macro, mode: zero-shot}]\n"
                    "rows: [{id: a, model: 'a:*'}, {id: b, model: 'b:*'}]\nsubgroups: [{id: s, column: auc/zero-shot}]\n")  # fmt: skip
    assert table_command(spec, [tmp_path / "runs"], tmp_path / "out") == 0
    results = json.loads((tmp_path / "runs" / "b" / "results" / "classification.json").read_text())
    female = next(g for g in results["subgroups"]["fields"]["sex"]["groups"] if g["value"] == "F")
    cells = _subgroup_cells(tmp_path / "out")
    assert cells[("sex", "group", "F", "b")]["value"] == female["metrics"]["auc_macro"]["value"]
    assert cells[("sex", "group", "F", "b")]["n"] == female["n"] == 80
    capsys.readouterr()
    assert verify_command(table=tmp_path / "out") == 0, capsys.readouterr().out
