from __future__ import annotations

import csv
import json
import re
import statistics
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import make_run, write_classification

from bench.run.compare import compare_files
from leaderboards.cli import table_command
from leaderboards.render.latex import escape

SPEC = """
name: t
title: Test table
fractions: [0.1, 1.0]
significance: {{test: paired_bootstrap, n_boot: 100, seed: 0, alpha: 0.05}}
{order}
columns:
  - {{id: cx, benchmark: chestxray14, task: classification, metric: auc_macro, label: CXR14 AUC, modes: [zero-shot, fine-tune]}}
  - {{id: ap, benchmark: chestxray14, task: classification, metric: ap_macro, label: CXR14 AP, mode: fine-tune}}
  - {{id: ck, benchmark: chexpert, task: classification, metric: auc_macro, label: CheXpert AUC, mode: zero-shot}}
rows:
  - {{id: weak, label: Weak & co_1, model: "weak:*"}}
  - {{id: strong, label: Strong, model: "strong:*"}}
  - {{id: twin, label: Twin, model: "twin:*"}}
  - {{id: paper, label: Paper, reported: {{citation: "Doe et al. 2024", values: {{cx/zero-shot: 0.5, cx/fine-tune: {{1.0: 0.99}}}}}}}}
"""


@pytest.fixture(scope="module")
def table_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp_path = tmp_path_factory.mktemp("table")
    runs = tmp_path / "runs"
    data = write_classification(tmp_path / "data", 150, 7, {"strong": 0.3, "weak": 0.05, "twin": 0.3})
    for name in ("strong", "weak", "twin"):
        make_run(runs, f"{name}-zs", model=f"{name}:w", dataset="chestxray14", gt=data["gt"], pred=data[name])
    for seed, pred in ((0, "strong"), (1, "weak"), (2, "twin")):  # three fine-tune seeds of one model
        make_run(
            runs, f"ft{seed}", model="strong:w", dataset="chestxray14", gt=data["gt"], pred=data[pred],
            mode="fine-tune", fraction=1.0, seed=seed,
        )  # fmt: skip
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.format(order="order: {by: cx/zero-shot}"))
    assert table_command(spec, [tmp_path / "runs"], tmp_path / "out") == 0
    return tmp_path / "out"


def _rows(out: Path) -> dict[tuple[str, str], dict[str, str]]:
    with open(out / "table.csv", newline="", encoding="utf-8") as handle:
        return {(r["row"], r["column"]): r for r in csv.DictReader(handle)}


def _results(out: Path, run: str) -> dict:
    return json.loads((out.parent / "runs" / run / "results" / "classification.json").read_text())


def test_cells_carry_the_results_values_ci_and_seed_statistics(table_dir: Path) -> None:
    rows = _rows(table_dir)
    md = (table_dir / "table.md").read_text()
    for name in ("strong", "weak", "twin"):
        metric = _results(table_dir, f"{name}-zs")["metrics"]["auc_macro"]
        cell = rows[(name, "cx/zero-shot")]
        assert float(cell["value"]) == metric["value"]
        assert [float(cell["ci95_low"]), float(cell["ci95_high"])] == metric["ci95"]
        shown = f"{metric['value']:.3f} [{metric['ci95'][0]:.3f}, {metric['ci95'][1]:.3f}]"
        assert cell["display"] == shown and shown in md
    seeds = [_results(table_dir, f"ft{s}")["metrics"]["auc_macro"]["value"] for s in range(3)]
    cell = rows[("strong", "cx/fine-tune@1")]
    assert float(cell["value"]) == pytest.approx(statistics.fmean(seeds), abs=1e-15)
    assert float(cell["sd"]) == pytest.approx(statistics.stdev(seeds), abs=1e-15)
    assert cell["display"] == f"{statistics.fmean(seeds):.3f} ± {statistics.stdev(seeds):.3f}"
    assert cell["n_seeds"] == "3"


def test_rows_order_bold_and_reported_block(table_dir: Path) -> None:
    rows = _rows(table_dir)
    cells = json.loads((table_dir / "cells.json").read_text())
    order = [r["id"] for r in cells["rows"]]
    assert order[0] == "paper"  # reported rows in their own block, never interleaved with reproduced ones
    zs = {r: float(rows[(r, "cx/zero-shot")]["value"]) for r in ("strong", "weak", "twin")}
    assert order[1:] == sorted(zs, key=lambda r: -zs[r])
    for column in ("cx/zero-shot", "ap/fine-tune@1", "cx/fine-tune@1"):
        present = {
            r: round(float(c["value"]), 3) for (r, col), c in rows.items() if col == column and c["value"]
        }
        best = max(present.values()) if len(present) > 1 else None  # a lone value is not bolded
        assert {r for r, v in present.items() if v == best} == {
            r for (r, col), c in rows.items() if col == column and c["bold"] == "1"
        }
    assert "**" + rows[("paper", "cx/fine-tune@1")]["display"] + "**" in (table_dir / "table.md").read_text()


def test_missing_cells_are_shown_with_their_reason_never_zero(table_dir: Path) -> None:
    rows = _rows(table_dir)
    md = (table_dir / "table.md").read_text()
    missing = {k: r for k, r in rows.items() if r["missing_reason"]}
    assert ("strong", "cx/fine-tune@0.1") in missing and ("weak", "ck/zero-shot") in missing
    assert ("paper", "ap/fine-tune@1") in missing
    for r in missing.values():
        assert r["value"] == "" and r["display"] == ""
        assert r["missing_reason"] in md
    assert "no run of this model on chexpert zero-shot" in md
    assert "not reported in the cited paper" in md
    assert "0.000" not in md


def test_significance_markers_follow_holm_adjusted_paired_tests(table_dir: Path, tmp_path: Path) -> None:
    runs = table_dir.parent / "runs"
    rows = _rows(table_dir)
    cells = json.loads((table_dir / "cells.json").read_text())
    order = [r["id"] for r in cells["rows"] if r["kind"] == "reproduced"]
    raw = []
    # Two tests in the table's Holm family: the smallest B with m * 2 / (B + 1) < alpha / 10 is 2 * 2 * 10 / 0.05
    # = 800 replicates (the spec's n_boot 100 is only the minimum).
    replicates = 800
    for column, metric in (("cx/zero-shot", "auc_macro"),):
        for a, b in zip(order, order[1:], strict=False):
            run_a, run_b = (runs / f"{x}-zs" for x in (a, b))
            cmp = compare_files(
                "classification", run_a / "gt.jsonl", run_a / "predictions.jsonl", run_b / "predictions.jsonl",
                tmp_path / "cmp.json", metrics=[metric], n_boot=replicates, n_perm=0, seed=0,
            )  # fmt: skip
            p = cmp["comparisons"][metric]["paired_bootstrap"]["p_value"]
            assert float(rows[(a, column)]["p_value"]) == p
            test = next(c["test"] for c in cells["cells"] if (c["row"], c["column"]) == (a, column))
            assert test["replicates"] == replicates and test["family"] == "table" and test["family_size"] == 2
            assert test["comparison_file"] and (table_dir / test["comparison_file"]).is_file()
            raw.append(((a, column), p))
    # Holm by hand: sort ascending, multiply by (m - rank), running max, cap at 1.
    m = len(raw)
    ordered = sorted(raw, key=lambda x: x[1])
    running = 0.0
    for rank, (key, p) in enumerate(ordered):
        running = max(running, min(1.0, (m - rank) * p))
        assert float(rows[key]["p_holm"]) == pytest.approx(running, rel=1e-12)
        assert rows[key]["significant"] == str(int(running < 0.05))
    strong_vs = rows[(order[0], "cx/zero-shot")]
    assert {order[0], order[1]} == {"strong", "twin"} and strong_vs["significant"] == "0"  # same strength
    assert rows[(order[1], "cx/zero-shot")]["significant"] == "1"  # vs the weak model
    assert rows[(order[1], "cx/zero-shot")]["display"] + "†" in (table_dir / "table.md").read_text()
    seed_cell = next(c for c in cells["cells"] if c["column"] == "cx/fine-tune@1" and c["row"] == "strong")
    assert seed_cell["test"] is None  # only reproduced row with a value in that column: nothing below it


def test_bold_prefers_lower_for_distances_and_ties_at_display_precision(tmp_path: Path) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(
        "columns:\n"
        "  - {id: hd, benchmark: jsrt, task: segmentation, metric: hd95_mm_mean, mode: zero-shot}\n"
        "  - {id: di, benchmark: jsrt, task: segmentation, metric: dice_mean, mode: zero-shot}\n"
        "rows:\n"
        "  - {id: a, reported: {citation: A, values: {hd/zero-shot: 4.2, di/zero-shot: 0.9104}}}\n"
        "  - {id: b, reported: {citation: B, values: {hd/zero-shot: 3.9, di/zero-shot: 0.9101}}}\n"
        "  - {id: c, reported: {citation: C, values: {hd/zero-shot: 7.0, di/zero-shot: 0.8}}}\n"
    )
    (tmp_path / "runs").mkdir()
    assert table_command(spec, [tmp_path / "runs"], tmp_path / "out") == 0
    rows = _rows(tmp_path / "out")
    assert [rows[(r, "hd/zero-shot")]["bold"] for r in "abc"] == ["0", "1", "0"]
    assert [rows[(r, "di/zero-shot")]["bold"] for r in "abc"] == ["1", "1", "0"]  # 0.910 == 0.910


def test_latex_html_and_markdown_are_consistent_and_escaped(table_dir: Path) -> None:
    tex = (table_dir / "table.tex").read_text()
    assert r"\toprule" in tex and r"\midrule" in tex and r"\bottomrule" in tex and r"\resizebox" not in tex
    assert escape("Weak & co_1") == r"Weak \& co\_1" and r"Weak \& co\_1" in tex
    assert r"{CXR14 AUC\textsuperscript{1}}" in tex and r"\cmidrule(lr){2-" in tex
    assert tex.count(r"\bfseries ") == sum(1 for r in _rows(table_dir).values() if r["bold"] == "1")
    lines = tex.splitlines()
    header = next(line for line in lines if line.startswith("Model &"))
    body_rows = [
        line for line in lines if line.startswith(("Paper~[R1] &", "Strong &", "Twin &", r"Weak \& co\_1 &"))
    ]
    assert len(body_rows) == 4  # one line per model (CIs beside the values when they fit)
    spanned = header.count("&") + sum(int(n) - 1 for n in re.findall(r"\\multicolumn\{(\d+)\}", header))
    assert {line.count("&") - line.count(r"\&") for line in body_rows} == {spanned}

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
    parser.feed((table_dir / "table.html").read_text())
    assert parser.open == [] and not parser.external
    html = (table_dir / "table.html").read_text()
    assert html.count("<b>") == tex.count(r"\bfseries ") and "Weak &amp; co_1" in html


def test_a_column_mixing_test_sets_is_refused_before_anything_is_written(
    tmp_path: Path, run_factory, capsys: pytest.CaptureFixture[str]
) -> None:
    small = write_classification(tmp_path / "d1", 16, 1, {"p": 0.3})
    large = write_classification(tmp_path / "d2", 219, 2, {"p": 0.1})
    run_factory("a", model="strong:w", dataset="chestxray14", gt=small["gt"], pred=small["p"])
    run_factory("b", model="weak:w", dataset="chestxray14", gt=large["gt"], pred=large["p"])
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.format(order=""))
    assert table_command(spec, [tmp_path / "runs"], tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "column cx/zero-shot mixes test sets" in err
    assert "strong on 16 cases" in err and "weak on 219 cases" in err
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_verify_recomputes_every_kind_of_cell(table_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Seed-averaged, single-run, missing and reported cells, bold, order and the tests all recompute."""
    from leaderboards.cli import verify_command

    assert verify_command(table=table_dir) == 0
    out = capsys.readouterr().out
    assert "MATCH      strong × cx/fine-tune@1" in out and "REPORTED   paper × cx/zero-shot" in out
    assert all(f"MATCH      {row} × cx/zero-shot" in out for row in ("strong", "weak", "twin"))
    assert "MISMATCH" not in out and "UNVERIFIED" not in out
