"""`imt-text:FILE.jsonl`: raw IMT-CXR / OmniFM-DR text answers per id and instruction, parsed into records.

One JSON object per line: `{"id", "instruction", "answer", "image_size": [H, W] (optional)}`. The prompt set
(`PromptSet`, bench/models/imt_prompts.py) says which instructions belong to which task and what their answers
mean; `AnswerDecoder` turns one image's answers into a prediction record and accounts for every unparseable
answer (bench/models/imt_decode.py, also used by `hf:DIR`). See docs/models.md.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from bench.models.base import ModelAdapter, Sample, TaskSpec
from bench.models.imt_decode import (
    SCORE_CONVENTION,
    UNPARSEABLE_LABEL_RULES,
    Answer,
    AnswerDecoder,
    Question,
)
from bench.models.imt_parse import normalise_instruction, normalise_name, template_regex
from bench.models.imt_prompts import ANSWER_TASKS, DEFAULT_PROMPTS, PromptSet, file_sha256
from bench.records import Record, RecordError

__all__ = [
    "DEFAULT_PROMPTS",
    "UNPARSEABLE_LABEL_RULES",
    "Answer",
    "AnswerDecoder",
    "ImtTextModel",
    "PromptSet",
    "Question",
    "file_sha256",
]


class ImtTextModel(ModelAdapter):
    """Reads `FILE.jsonl` of raw answers; `tasks` are those the file answers under the prompt set's templates."""

    needs_images = False

    def __init__(
        self,
        path: str,
        *,
        prompts: str | None = None,
        resize: str | None = None,
        unparseable_labels: str = "absent",
    ):
        self.path = Path(path)
        self.prompts = PromptSet.load(prompts)
        self.decoder = AnswerDecoder(self.prompts, resize=resize, unparseable_labels=unparseable_labels)
        # (id, template) -> target -> answer; target "" for whole-image questions
        self.index: dict[tuple[str, str], dict[str, Answer]] = {}
        self.unmatched_instructions: Counter[str] = Counter()
        self._slots = {task: self.prompts.slots(task) for task in self.prompts.templates}
        self.n_lines = self._read()
        answered = {template for _, template in self.index}
        self.tasks = frozenset(
            task for task, items in self.prompts.templates.items() if answered.intersection(items)
        )
        self.sha256 = file_sha256(self.path)

    @property
    def score_type(self) -> str:
        return self.decoder.score_type

    def _read(self) -> int:
        if not self.path.is_file():
            raise RecordError(
                self.path, None, "file not found (imt-text:FILE.jsonl needs a JSONL of answers)"
            )
        where: dict[tuple[str, str, str], int] = {}
        n = 0
        templates = dict.fromkeys(t for items in self.prompts.templates.values() for t in items)
        matchers = [(t, template_regex(t)) for t in templates]
        with open(self.path, encoding="utf-8") as handle:
            for lineno, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                n += 1
                record_id, instruction, answer = self._parse_line(line, lineno)
                normalised = normalise_instruction(instruction)
                matched = False
                for template, regex in matchers:  # every template it matches: priority is decided per image
                    found = regex.match(normalised)
                    if found is None:
                        continue
                    matched = True
                    target = found.group(1).strip() if found.groups() else ""
                    if target:
                        target = self.decoder.vocabulary_name(target) or normalise_name(target)
                    key = (record_id, template, target)
                    if key in where:
                        raise RecordError(
                            self.path,
                            lineno,
                            f"second answer for id {record_id!r} and {instruction!r} (first on line {where[key]})",
                        )
                    where[key] = lineno
                    self.index.setdefault((record_id, template), {})[target] = answer
                if not matched:
                    self.unmatched_instructions[instruction] += 1
        if n == 0:
            raise RecordError(self.path, None, "contains no answers")
        return n

    def _parse_line(self, line: str, lineno: int) -> tuple[str, str, Answer]:
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise RecordError(self.path, lineno, f"invalid JSON: {exc}") from None
        if not isinstance(raw, dict):
            raise RecordError(self.path, lineno, "each line must be a JSON object")
        extra = set(raw) - {"id", "instruction", "answer", "image_size"}
        if extra:
            raise RecordError(self.path, lineno, f"unknown key(s) {sorted(extra)}")
        for key in ("id", "instruction", "answer"):
            if not isinstance(raw.get(key), str) or (key != "answer" and not raw[key].strip()):
                raise RecordError(
                    self.path, lineno, f"{key!r} must be a{' non-empty' * (key != 'answer')} string"
                )
        size = raw.get("image_size")
        if size is not None and not (
            isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) and v > 0 for v in size)
        ):
            raise RecordError(self.path, lineno, f"image_size {size!r} must be [H, W], two positive integers")
        return raw["id"], raw["instruction"], Answer(raw["answer"], tuple(size) if size else None)

    def _answers_for(
        self, sample: Sample, task: str, spec: TaskSpec, superseded: Counter[str]
    ) -> dict[Question, Answer]:
        """Per slot of the task, the answers of its first template (priority order) that answers this image;
        those of later templates are counted in `superseded`. Attribute answers are taken for the findings the
        file answers; every other task needs an answer to each of its questions."""
        record_id = sample.record.id
        answers: dict[Question, Answer] = {}
        answered = False
        for templates in self._slots[task].values():
            chosen = [t for t in templates if (record_id, t) in self.index]
            if not chosen:
                continue
            answered = True
            template, given = chosen[0], self.index[(record_id, chosen[0])]
            superseded.update({t: len(self.index[(record_id, t)]) for t in chosen[1:]})
            if task == "attributes":
                answers.update({Question(task, template, target): a for target, a in given.items()})
                continue
            for question in AnswerDecoder.questions(template, task, spec):
                if question.target not in given:
                    raise RecordError(
                        self.path,
                        None,
                        f"no answer for id {record_id!r} to {self.prompts.instruction(template, question.target)!r}",
                    )
                answers[question] = given[question.target]
        if not answered and task != "attributes":
            asked = " or ".join(repr(t) for t in self.prompts.templates[task])
            raise RecordError(
                self.path, None, f"no {task} answer for id {record_id!r} (instructions {asked})"
            )
        return answers

    def predict(self, batch: list[Sample], spec: TaskSpec) -> list[Record]:
        tasks = [task for task in ANSWER_TASKS if task in spec.tasks and task in self.tasks]
        records = []
        for sample in batch:
            answers: dict[Question, Answer] = {}
            superseded: Counter[str] = Counter()
            for task in tasks:
                answers.update(self._answers_for(sample, task, spec, superseded))
            records.append(self.decoder.to_record(sample, spec, tasks, answers, superseded))
        return records

    @property
    def parse_failures(self) -> dict[str, int]:
        return dict(sorted(self.decoder.failures.items()))

    def describe(self) -> dict[str, Any]:
        return {
            "spec": f"imt-text:{self.path}",
            "file": {"path": str(self.path), "sha256": self.sha256, "answers": self.n_lines},
            "tasks": sorted(self.tasks),
            "score_type": self.score_type,
            "conventions": {"classification_scores": SCORE_CONVENTION},
            "prompts": self.prompts.to_json(),
            "coordinates": {"bins": 1000, "bin_to_coordinate": "c = k / 999", "resize": self.decoder.resize},
            **self.decoder.summary(),
            "unmatched_instructions": dict(self.unmatched_instructions.most_common(20)),
        }
