"""`predictions:FILE.jsonl`: predictions made elsewhere (another lab, a GPU cluster), served by id.

The reviewer's path: no model runs, no image is decoded. The file is read and validated once as prediction
records (`bench.records`); `predict` hands back each asked id's record restricted to the asked tasks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.models.base import TASKS, ModelAdapter, Sample, TaskSpec
from bench.models.imt_text import file_sha256
from bench.records import Record, RecordError, read_records
from bench.tasks import TASKS as TASK_TABLE

TASK_FIELDS = {task: TASK_TABLE[task].field for task in TASKS}  # the model tasks' record fields


class PredictionsFileModel(ModelAdapter):
    needs_images = False

    def __init__(self, path: str):
        self.path = Path(path)
        self.records: dict[str, Record] = {rec.id: rec for _, rec in read_records(self.path, "pred")}
        self.sha256 = file_sha256(self.path)
        present = {
            task
            for rec in self.records.values()
            for task, f in TASK_FIELDS.items()
            if getattr(rec, f) is not None
        }
        self.tasks = frozenset(task for task in TASKS if task in present)
        label_values = [v for rec in self.records.values() for v in (rec.labels or {}).values()]
        # 0/1 labels only (e.g. thresholded outputs): AUC is then (TPR + TNR) / 2, flagged in the results
        self.score_type = (
            "binary" if label_values and all(v in (0.0, 1.0) for v in label_values) else "continuous"
        )

    def predict(self, batch: list[Sample], spec: TaskSpec) -> list[Record]:
        keep = {"id", "image", "meta"} | {TASK_FIELDS[t] for t in spec.tasks if t in TASK_FIELDS}
        out = []
        for sample in batch:
            record = self.records.get(sample.record.id)
            if record is None:
                raise RecordError(self.path, None, f"has no prediction for id {sample.record.id!r}")
            out.append(Record.model_validate({k: v for k, v in dict(record).items() if k in keep}))
        return out

    def describe(self) -> dict[str, Any]:
        return {
            "spec": f"predictions:{self.path}",
            "file": {"path": str(self.path), "sha256": self.sha256, "records": len(self.records)},
            "tasks": sorted(self.tasks),
            "score_type": self.score_type,
        }
