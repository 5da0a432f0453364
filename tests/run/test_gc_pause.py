"""The cyclic collector is paused while a results or comparison file is built, and always restored."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from bench.records import RecordError
from bench.run.gc_pause import cyclic_gc_paused
from bench.run.score import build_results
from bench.run.settings import ScoreSettings


@pytest.fixture
def collector_on():
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_paused_inside_and_restored_after_an_error(collector_on) -> None:
    with pytest.raises(RuntimeError), cyclic_gc_paused():
        assert not gc.isenabled()
        raise RuntimeError("mid-way")
    assert gc.isenabled()


def test_nested_pauses_resume_only_at_the_outermost(collector_on) -> None:
    with cyclic_gc_paused():
        with cyclic_gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner one found it paused: it leaves it so
    assert gc.isenabled()


def test_a_collector_switched_off_by_the_caller_stays_off() -> None:
    was = gc.isenabled()
    gc.disable()
    try:
        with cyclic_gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        if was:
            gc.enable()


def test_scoring_runs_paused_and_restores_the_collector(tmp_path: Path, collector_on, monkeypatch) -> None:
    seen = []
    import bench.run.score as score_module

    real_align = score_module.align

    def spy(*args, **kwargs):
        seen.append(gc.isenabled())
        return real_align(*args, **kwargs)

    monkeypatch.setattr(score_module, "align", spy)
    gt, pred = tmp_path / "gt.jsonl", tmp_path / "pred.jsonl"
    gt.write_text('{"id": "a", "labels": {"x": 1}}\n{"id": "b", "labels": {"x": 0}}\n')
    pred.write_text('{"id": "a", "labels": {"x": 0.9}}\n{"id": "b", "labels": {"x": 0.2}}\n')
    results = build_results("classification", gt, pred, ScoreSettings(n_boot=0))
    assert results["metrics"]["auc_macro"]["value"] == 1.0
    assert seen == [False] and gc.isenabled()
    pred.write_text('{"id": "a", "labels": {"x": 0.9}}\n')  # b has no prediction: an error mid-way
    with pytest.raises(RecordError):
        build_results("classification", gt, pred, ScoreSettings(n_boot=0))
    assert gc.isenabled()
