"""cxrbench's task metrics as Hugging Face `evaluate` modules that load from this installed package, offline.

    import evaluate
    from bench.evaluate_modules import path

    metric = evaluate.load(path("classification"))
    metric.compute(predictions=[[0.9, 0.1], ...], references=[[1, 0], ...], labels=["Edema", "Effusion"])

`evaluate.load` given a local folder that holds `<folder name>.py` uses that script and never the Hub
(evaluate 0.4.6, loading.py: `evaluation_module_factory` returns `LocalEvaluationModuleFactory(...).get_module()`
when `os.path.isfile(os.path.join(path, filename))`, before any Hub branch; the factory only copies the script into
the HF_MODULES_CACHE folder and imports the library names the script imports). Only relative imports or
`# From: URL` comments would make it fetch, and these scripts have neither. Set HF_EVALUATE_OFFLINE=1 and
HF_HUB_OFFLINE=1 anyway (the Makefile does): they stop the Hub download counter and hub look-ups elsewhere.

Each module returns what `cxrbench score` writes for the same cases (`bench.run.score.build_results`), less the
input-file provenance: the same metric names, per-label values, conventions, settings and notes.
"""

from __future__ import annotations

from pathlib import Path

from bench.tasks import MODEL_TASKS

MODULE_TASKS = MODEL_TASKS  # one module per task a model answers


def path(task: str) -> str:
    """The folder to pass to `evaluate.load` for `task`."""
    if task not in MODULE_TASKS:
        raise ValueError(f"no evaluate module for task {task!r}; choose one of {', '.join(MODULE_TASKS)}")
    return str(Path(__file__).resolve().parent / task)
