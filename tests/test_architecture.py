"""The shape of the tree (issue 14): one-way package dependencies, no import cycles, one task table, one error
model, registration that never drops an adapter."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from bench.datasets import DATASETS, ORDER
from bench.datasets.base import DatasetAdapter, register
from bench.errors import EXIT_BAD_INPUT, EXIT_FAILED, BadInputError, FailedError, exit_status_of
from bench.tasks import OPTIONS, TASK_NAMES, TASKS, metric_direction

ROOT = Path(__file__).resolve().parents[1]


def _checker():
    spec = importlib.util.spec_from_file_location("check_imports", ROOT / "scripts" / "check_imports.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_packages_depend_one_way_and_no_module_imports_itself_back() -> None:
    assert _checker().violations(ROOT) == []


def test_the_checker_finds_a_cycle_and_a_reverse_dependency(tmp_path: Path) -> None:
    for package in ("bench", "leaderboards", "readerstudy", "cxrbench"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "bench" / "a.py").write_text("def f():\n    from bench import b\n")
    (tmp_path / "bench" / "b.py").write_text("import bench.a\nimport leaderboards\n")
    problems = _checker().violations(tmp_path)
    assert "import cycle: bench.a -> bench.b" in problems
    assert any(p.startswith("bench.b imports leaderboards") for p in problems)


def test_check_imports_script_exit_status() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/check_imports.py"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout
    assert result.stdout.strip().endswith("0 import-rule violations")


def test_one_task_table_feeds_the_cli_the_specs_and_the_option_checks() -> None:
    from bench.cli_options import EmptyRule, FrocHit, LabelSet, Task
    from bench.metrics.labeler import LABELSETS
    from bench.metrics.localization.froc import HIT_RULES
    from bench.metrics.segmentation import EMPTY_RULES
    from bench.models.base import TASKS as MODEL_TASKS
    from leaderboards.specs import TASKS as SPEC_TASKS

    assert [t.value for t in Task] == list(TASK_NAMES) == list(SPEC_TASKS)
    assert set(MODEL_TASKS) <= set(TASK_NAMES)
    assert [v.value for v in FrocHit] == list(OPTIONS["froc_hit"].choices) == list(HIT_RULES)
    assert [v.value for v in EmptyRule] == list(OPTIONS["empty_rule"].choices) == list(EMPTY_RULES)
    # the labeler owns the label lists; the option's choices are their names
    assert [v.value for v in LabelSet] == list(OPTIONS["ce_labelset"].choices) == list(LABELSETS)
    for task in TASKS.values():
        assert all(option in OPTIONS for option in task.options)


def test_metric_directions_are_declared_once() -> None:
    assert metric_direction("auc_macro").lower_is_better is False
    assert metric_direction("hd95_mm_mean").lower_is_better and metric_direction("radcliq_v1").lower_is_better
    assert metric_direction("calibration_slope/Edema").target == 1.0
    from leaderboards.directions import metric_direction as table_direction

    for metric in ("auc_macro", "hd95_mm_mean", "brier_macro", "calibration_intercept_macro", "radcliq_v1"):
        assert table_direction(metric) == metric_direction(metric)


def test_an_eleventh_adapter_is_kept_and_a_bad_one_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bench.datasets.base.DATASETS", dict(DATASETS))
    from bench.datasets import base

    class Eleventh(DatasetAdapter):
        name = "eleventh-cxr"
        title = "An eleventh benchmark"
        tasks = ("classification",)
        splits = ("test",)
        expected_layout = "labels.csv"
        split_source = "official"

        def records(self, root, split):  # pragma: no cover - never read here
            return iter(())

    register(Eleventh)
    assert "eleventh-cxr" in base.DATASETS
    assert list(DATASETS)[: len(ORDER)] == list(ORDER)

    class WrongTask(Eleventh):
        name = "wrong-task"
        tasks = ("report_generation",)

    with pytest.raises(TypeError, match="not in bench.tasks"):
        register(WrongTask)


def test_one_error_model_maps_errors_to_exit_statuses() -> None:
    from bench.datasets.base import LayoutError, UnknownDatasetError
    from bench.models.served_client import ServedModelError
    from bench.records import RecordError
    from bench.run.context import RunError, RunFailed
    from leaderboards.specs import SpecError

    for bad_input in (RecordError("f.jsonl", 3, "x"), LayoutError("d", "x"), UnknownDatasetError("x"),
                      RunError("x"), SpecError("x"), ValueError("x"), FileNotFoundError("x")):  # fmt: skip
        assert exit_status_of(bad_input) == EXIT_BAD_INPUT, type(bad_input)
    for failed in (RunFailed("x"), ServedModelError("x"), FailedError("x")):
        assert exit_status_of(failed) == EXIT_FAILED, type(failed)
    assert exit_status_of(RuntimeError("a bug")) is None  # keeps its traceback
    assert isinstance(RecordError("f", 1, "x"), BadInputError | ValueError)
