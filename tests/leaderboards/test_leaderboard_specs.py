from __future__ import annotations

from pathlib import Path

import pytest

from leaderboards.specs import MODES, SPEC_DIR, SpecError, load_spec, shipped_specs


def test_shipped_specs_load_and_cover_the_protocol() -> None:
    assert {"demo", "imt-cxr", "classification", "localization", "segmentation", "report"} <= set(
        shipped_specs()
    )
    for name in shipped_specs():
        spec = load_spec(name)
        assert spec.columns and spec.rows
        assert {c.mode for c in spec.columns} == set(MODES)
    for name in ("imt-cxr", "demo"):
        benchmarks = {c.benchmark for c in load_spec(name).columns}
        assert len(benchmarks) == 10


def test_modes_and_fractions_expand_into_leaf_columns(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "fractions: [0.01, 1.0]\n"
        "columns:\n"
        "  - {id: a, benchmark: jsrt, task: segmentation, metric: hd95_mm_mean, modes: [zero-shot, fine-tune]}\n"
        "  - {id: b, benchmark: jsrt, task: segmentation, metric: dice_mean, mode: fine-tune, fractions: [0.5]}\n"
        "rows: [{id: m, model: 'x:*'}]\n"
    )
    spec = load_spec(path)
    assert [c.key for c in spec.columns] == [
        "a/zero-shot",
        "a/fine-tune@0.01",
        "a/fine-tune@1",
        "b/fine-tune@0.5",
    ]
    assert [c.sub_label for c in spec.columns] == ["", "1%", "100%", "50%"]
    assert spec.columns[0].lower_is_better and not spec.columns[-1].lower_is_better


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("[{id: m, model: 'x:*', reported: {citation: c}}]", "exactly one of the two"),
        ("[{id: m, reported: {values: {a/zero-shot: 0.5}}}]", "need a 'citation'"),
        ("[{id: m, reported: {citation: c, values: {nope/zero-shot: 0.5}}}]", "unknown column"),
        ("[{id: m, modle: 'x:*'}]", "unknown key"),
    ],
)
def test_bad_specs_name_the_problem(tmp_path: Path, rows: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "columns: [{id: a, benchmark: b, task: classification, metric: auc_macro, mode: zero-shot}]\n"
        f"rows: {rows}\n"
    )
    with pytest.raises(SpecError, match=message):
        load_spec(path)


def test_shipped_specs_declare_their_holm_family() -> None:
    for name in shipped_specs():
        path = SPEC_DIR / f"{name}.yaml"
        assert "family: table" in path.read_text(), f"{path} leaves its Holm family implicit"
        assert load_spec(name).significance.family == "table"
