"""Layout of the rendered tables: orientation, left-out empty rows, notes only for what is shown, the terminal
summary, determinism, and `cxrbench table --runs A B`.

`synthetic_table` builds a Table for a shipped spec with any number of models (the LaTeX and HTML fit tests use
it too): values, CIs, seed sds, missing cells, a reported row and convention footnotes as long as real ones.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
from conftest import make_run, write_classification

from leaderboards.model import Cell, Source, Table
from leaderboards.render import render_texts
from leaderboards.render.layout import BY_BENCHMARK, BY_MODEL, build_layout
from leaderboards.render.text import render_summary
from leaderboards.specs import load_spec

# Convention parts as the results files word them (leaderboards/conventions.py), long on purpose.
TASK_PARTS = {
    "classification": "unknown_labels: NaN in y_true = unknown ground truth, excluded for that label only; auc: ROC "
    "AUC = Mann-Whitney U / (n_pos*n_neg), ties count 1/2 (= sklearn.metrics.roc_auc_score); macro: unweighted "
    "mean over labels that have both classes among known values",
    "localization": "boxes: input xyxy in original-image pixels; COCO metrics see them as xywh (w = x2 - x1); "
    "froc_hit_rule: center_in_object: the predicted box's centre lies inside the annotated object — its rectangle, "
    "the ellipse inscribed in its box, or its polygon, borders included (object-CXR froc.py's inside_object)",
    "segmentation": "empty_rule: exclude; both_empty: excluded from dice/iou/hd95 means; one_empty: dice = iou = 0; "
    "hd95 undefined, excluded from the hd95 mean; dice: 2|G∩P| / (|G|+|P|) per image from RLE areas (pycocotools "
    "area / merge(intersect=True)); aggregation: per-structure mean over counted images",
    "report": "tokenizer: pycocoevalcap PTBTokenizer output (CoreNLP PTB rules, lower-cased, punctuation tokens "
    "dropped), reimplemented in Python; clinical_efficacy: {labeler=cxrbench-rules-1.0, labelset=chexpert, "
    "labels=[No Finding, Enlarged Cardiomediastinum, Cardiomegaly, Lung Lesion, Lung Opacity, Edema]}",
}


def synthetic_table(
    spec_name: str, n_models: int, *, reported: bool = True, seeds: bool = True, missing: bool = True
) -> Table:
    spec = load_spec(spec_name)
    rng = np.random.default_rng(n_models)
    rows = []
    if reported:
        rows.append({"id": "paper", "label": "MedCLIP", "kind": "reported", "citation": "Doe et al., 2024",
                     "bibtex_key": None})  # fmt: skip
    rows += [
        {
            "id": f"m{k}",
            "label": f"Model {k} (ViT-B/16)",
            "kind": "reproduced",
            "citation": None,
            "bibtex_key": None,
        }
        for k in range(n_models - int(reported))
    ]
    footnotes, column_footnote = [], {}
    for col in spec.columns:
        text = (  # one per benchmark and metric, as collect makes them (zero-shot and fine-tune share a test set)
            f"{col.task} · {col.metric} — {TASK_PARTS[col.task]}; {col.metric}: {col.metric} on {col.benchmark} as "
            f"published; 95 % CI: bootstrap over images ({100 + len(col.benchmark)} images), 1000 replicates, seed 0"
        )
        if text not in footnotes:
            footnotes.append(text)
        column_footnote[col.key] = footnotes.index(text) + 1
    cells = []
    for row in rows:
        for col in spec.columns:
            cell = Cell(row=row["id"], column=col.key, kind=row["kind"])
            if missing and rng.random() < 0.12:
                cell.reason = "no run of this model on " + col.benchmark
            else:
                scale = 40.0 if col.lower_is_better else 1.0
                cell.value = float(rng.uniform(0.4, 0.95) * scale)
                if seeds and col.fraction is not None and col.fraction < 1.0 and row["kind"] == "reproduced":
                    cell.sd, cell.n_seeds = float(rng.uniform(0.001, 0.03) * scale), 3
                else:
                    half = float(rng.uniform(0.01, 0.05) * scale)
                    cell.ci95, cell.n_seeds = [cell.value - half, min(cell.value + half, scale)], 1
                cell.sources = [
                    Source("run", "results.json", "0" * 64, f"metrics.{col.metric}", 0, cell.value)
                ]
            cells.append(cell)
    for col in spec.columns:
        present = [c for c in cells if c.column == col.key and c.value is not None]
        if len(present) > 1:
            best = (min if col.lower_is_better else max)(round(c.value, 3) for c in present)
            for c in present:
                c.bold = round(c.value, 3) == best
    return Table(
        spec={
            "name": spec.name,
            "title": spec.title,
            "caption": spec.caption,
            "path": spec.path,
            "sha256": spec.sha256,
            "format": asdict(spec.cell_format),
            "significance": asdict(spec.significance),
            "best": spec.best,
            "order_by": None,
        },  # fmt: skip
        columns=[asdict(c) | {"sub_label": c.sub_label} for c in spec.columns],
        rows=rows,
        cells=cells,
        footnotes=footnotes,
        column_footnote=column_footnote,
    )


def test_few_models_put_benchmarks_in_rows_many_models_in_rows() -> None:
    one = build_layout(synthetic_table("demo", 1, reported=False, missing=False))
    assert one.orientation == BY_BENCHMARK
    labels = [r.label for p in one.panels for r in p.rows if r.kind != "section"]
    assert len(labels) == 11 and "ChestX-ray14 AUC" in labels  # one row per benchmark metric
    assert [leaf.label for leaf in one.panels[0].leaves] == ["ZS", "FT"]  # demo fine-tunes at 100 % only
    sections = [r.label for p in one.panels for r in p.rows if r.kind == "section"]
    assert sections == ["Report generation", "Localization", "Classification", "Segmentation"]
    many = build_layout(synthetic_table("imt-cxr", 12, missing=False))
    assert many.orientation == BY_MODEL
    assert [p.title for p in many.panels] == [
        "Report generation",
        "Localization",
        "Classification",
        "Segmentation",
    ]
    assert all(len(p.rows) == 12 for p in many.panels)


def test_rows_with_no_value_are_listed_on_one_line_not_drawn() -> None:
    table = synthetic_table("demo", 1, reported=False, missing=False)
    for cell in table.cells:
        if cell.column.startswith(("jsrt-seg", "tbx11k-loc")):
            cell.value, cell.ci95, cell.bold, cell.reason = None, None, False, "no run of this model on it"
    md = render_texts(table)["table.md"]
    assert "JSRT Dice" not in md.split("- Not shown")[0]  # no row of dashes in the table
    assert re.search(r"Not shown, no value in any cell: TBX11K AP50<sup>a</sup>, JSRT Dice<sup>a</sup>\.", md)
    assert md.split("\n- ")[0].count("—") == 1  # in the tables and above, the only dash is the title's


def test_notes_only_for_what_the_table_shows() -> None:
    bare = render_texts(synthetic_table("segmentation", 1, reported=False, seeds=False, missing=False))
    for text in (bare["table.md"], bare["table.tex"], bare["table.html"]):
        assert "seeds" not in text and "Cited models" not in text and "†" not in text and "dagger" not in text
        assert "Missing" not in text and "Not shown" not in text
        assert "Bold" not in text  # a single model: nothing is "best"
    full = synthetic_table("imt-cxr", 4)
    full.cells[5].significant = True
    texts = render_texts(full)
    for text in (texts["table.md"], texts["table.html"]):
        assert "mean ± sample sd over seeds" in text and "Cited models" in text and "Bold: best" in text
        assert "differs from the next reproduced model below" in text and "Missing cells" in text
    assert "$\\pm$ sample sd over seeds" in texts["table.tex"]


def test_rendering_is_deterministic() -> None:
    table = synthetic_table("imt-cxr", 3)
    again = Table.from_json(json.loads(json.dumps(table.to_json())))
    assert render_texts(table) == render_texts(again)


def test_terminal_summary_fits_100_columns_with_every_value_and_ci() -> None:
    table = synthetic_table("demo", 1, reported=False, missing=False)
    text = render_summary(table, width=100)
    assert max(len(line) for line in text.splitlines()) <= 100
    header = next(line for line in text.splitlines() if line.startswith("Benchmark"))
    assert header.split() == ["Benchmark", "ZS", "FT"]
    for cell in table.cells:
        lo, hi = cell.ci95
        assert f"{cell.value:.3f} [{lo:.3f}, {hi:.3f}]" in text
    assert len(text.splitlines()) == 1 + 1 + 11  # model name, header, one line per benchmark metric
    wide = render_summary(synthetic_table("imt-cxr", 2), width=100)
    assert max(len(line) for line in wide.splitlines()) <= 100


def test_cli_accepts_runs_as_a_list_and_repeated(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cxrbench.cli import app

    data = write_classification(tmp_path / "data", 40, 3, {"a": 0.4, "b": 0.2})
    make_run(tmp_path / "one", "a", model="a:w", dataset="chestxray14", gt=data["gt"], pred=data["a"])
    make_run(tmp_path / "two", "b", model="b:w", dataset="chestxray14", gt=data["gt"], pred=data["b"])
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "significance: {test: none}\ncolumns:\n"
        "  - {id: cx, benchmark: chestxray14, task: classification, metric: auc_macro, mode: zero-shot}\n"
        "rows:\n  - {id: a, model: 'a:*'}\n  - {id: b, model: 'b:*'}\n"
    )
    runner = CliRunner()
    for args in (["--runs", str(tmp_path / "one"), str(tmp_path / "two")],
                 ["--runs", str(tmp_path / "one"), "--runs", str(tmp_path / "two")]):  # fmt: skip
        out = tmp_path / f"out{len(args)}"
        result = runner.invoke(app, ["table", str(spec), *args, "--out", str(out)])
        assert result.exit_code == 0, result.output
        cells = json.loads((out / "cells.json").read_text())["cells"]
        assert all(c["value"] is not None for c in cells) and len(cells) == 2


@pytest.mark.parametrize("spec", ["demo", "imt-cxr", "localization"])
def test_every_cell_value_is_drawn_once_in_markdown(spec: str) -> None:
    table = synthetic_table(spec, 3)
    md = render_texts(table)["table.md"]
    body = md.split("\n- ")[0]
    for cell in table.cells:
        if cell.value is not None:
            assert f"{cell.value:.3f}" in body
