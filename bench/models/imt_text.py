"""`imt-text:FILE.jsonl`: raw IMT-CXR / OmniFM-DR text answers per id and instruction, parsed into records.

One JSON object per line: `{"id", "instruction", "answer", "image_size": [H, W] (optional)}`. The prompt set
(`PromptSet`, a YAML file) says which instructions belong to which task; `AnswerDecoder` turns one image's answers
into a prediction record and accounts for every unparseable answer (also used by `hf:DIR`). See docs/models.md.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from bench.metrics.segmentation import encode_mask, polygon_to_rle
from bench.models.base import TASKS, ModelAdapter, Sample, TaskSpec
from bench.models.imt_parse import (
    RESIZE_MODES,
    AnswerParseError,
    Geometry,
    build_synonyms,
    match_instruction,
    normalise_name,
    parse_boxes,
    parse_label_list,
    parse_level,
    parse_polygon,
)
from bench.records import Box, Mask, Record, RecordError

DEFAULT_PROMPTS = Path(__file__).resolve().parent / "prompts" / "imt_cxr.yaml"
UNPARSEABLE_LABEL_RULES = ("absent", "negative")
_PROMPT_KEYS = (*TASKS, "label_names", "synonyms", "resize")
_MAX_ANSWER_IN_META = 300


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class PromptSet:
    """Instruction templates per task (first = the one asked), name maps and the resize convention."""

    templates: dict[str, tuple[str, ...]]
    label_names: dict[str, str] = field(default_factory=dict)
    synonyms: dict[str, str] = field(default_factory=dict)
    resize: str = "stretch"
    source: str = "default"
    sha256: str | None = None

    @classmethod
    def load(cls, path: str | Path | None = None) -> PromptSet:
        """The published defaults, with the keys of the YAML file at `path` (if any) replacing theirs."""
        merged = _read_prompt_yaml(DEFAULT_PROMPTS)
        if path is not None:
            merged.update(_read_prompt_yaml(Path(path)))
        templates = {}
        for task in TASKS:
            value = merged[task]
            items = (value,) if isinstance(value, str) else tuple(value)
            if not items or not all(isinstance(t, str) and t.strip() for t in items):
                raise ValueError(f"{path}: {task!r} must be a template string or a non-empty list of them")
            for template in items:
                _check_template(task, template, path)
            templates[task] = items
        if merged["resize"] not in RESIZE_MODES:
            raise ValueError(f"{path}: resize {merged['resize']!r} is not one of {', '.join(RESIZE_MODES)}")
        return cls(
            templates=templates,
            label_names=dict(merged["label_names"] or {}),
            synonyms=dict(merged["synonyms"] or {}),
            resize=merged["resize"],
            source=str(path) if path is not None else "default",
            sha256=file_sha256(path) if path is not None else file_sha256(DEFAULT_PROMPTS),
        )

    def instruction(self, template: str, target: str) -> str:
        return template.replace("{}", self.label_names.get(target, target)) if "{}" in template else template

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "sha256": self.sha256,
            "templates": {task: list(items) for task, items in self.templates.items()},
            "label_names": self.label_names,
            "synonyms": self.synonyms,
            "resize": self.resize,
        }


def _read_prompt_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: prompt file not found (pass a YAML file mapping tasks to instructions)"
        )
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a prompt file is a mapping of task -> instruction template(s)")
    unknown = sorted(set(data) - set(_PROMPT_KEYS))
    if unknown:
        raise ValueError(f"{path}: unknown key(s) {unknown}; allowed: {', '.join(_PROMPT_KEYS)}")
    return data


def _check_template(task: str, template: str, path: str | Path | None) -> None:
    holes = template.count("{}")
    if holes > 1 or (task in ("localization", "segmentation") and holes != 1) or (task == "report" and holes):
        raise ValueError(
            f"{path}: {task} template {template!r} must have "
            + ("exactly one {} (the label / structure)" if task != "report" else "no {}")
            + ("" if task != "classification" else " or none")
        )


@dataclass(frozen=True)
class Question:
    task: str
    template: str
    target: str  # vocabulary label / structure; "" for whole-image questions


@dataclass(frozen=True)
class Answer:
    text: str
    input_size: tuple[int, int] | None = None  # [H, W] the model saw


class AnswerDecoder:
    """Turns one image's text answers into a prediction record; counts failures and repairs (never guesses)."""

    def __init__(self, prompts: PromptSet, *, resize: str | None = None, unparseable_labels: str = "absent"):
        if unparseable_labels not in UNPARSEABLE_LABEL_RULES:
            raise ValueError(f"unparseable_labels must be one of {UNPARSEABLE_LABEL_RULES}")
        self.prompts = prompts
        self.resize = resize or prompts.resize
        if self.resize not in RESIZE_MODES:
            raise ValueError(f"resize {self.resize!r} is not one of {', '.join(RESIZE_MODES)}")
        self.unparseable_labels = unparseable_labels
        self.synonyms = build_synonyms(prompts.synonyms)
        self._model_names = {normalise_name(v): k for k, v in prompts.label_names.items()}
        self.failures: Counter[str] = Counter()  # template -> unparseable answers
        self.repairs: Counter[str] = Counter()
        self.unknown_names: Counter[str] = Counter()
        self.answers_parsed = 0

    @staticmethod
    def questions(template: str, task: str, spec: TaskSpec) -> list[Question]:
        targets = {
            "classification": spec.labels,
            "localization": spec.box_labels,
            "segmentation": spec.structures,
        }
        if "{}" not in template:
            return [Question(task, template, "")]
        return [Question(task, template, name) for name in targets.get(task, [])]

    def vocabulary_name(self, name: str) -> str | None:
        """A target as written in an instruction -> vocabulary name (via label_names reversed, then synonyms)."""
        key = normalise_name(name)
        return self._model_names.get(key) or self.synonyms.get(key)

    def to_record(
        self, sample: Sample, spec: TaskSpec, tasks: list[str], answers: dict[Question, Answer]
    ) -> Record:
        """`tasks` are the tasks asked: each gets its field even when it had no question (e.g. no box label)."""
        base = sample.record
        fields: dict[str, Any] = {"id": base.id, "image": base.image}
        failures: list[dict[str, str]] = []
        repairs: Counter[str] = Counter()
        levels: dict[str, str] = {}

        def fail(question: Question, answer: Answer, error: AnswerParseError) -> None:
            self.failures[question.template] += 1
            failures.append(
                {
                    "template": question.template,
                    "instruction": self.prompts.instruction(question.template, question.target),
                    "reason": str(error),
                    "answer": answer.text[:_MAX_ANSWER_IN_META],
                }
            )

        by_task: dict[str, list[tuple[Question, Answer]]] = {}
        for question, answer in answers.items():
            by_task.setdefault(question.task, []).append((question, answer))
            self.answers_parsed += 1
        if "classification" in tasks:
            fields["labels"] = self._labels(spec, by_task.get("classification", []), fail, levels)
        if "localization" in tasks:
            fields["boxes"] = self._boxes(sample, by_task.get("localization", []), fail, repairs)
        if "segmentation" in tasks:
            fields["masks"] = self._masks(sample, by_task.get("segmentation", []), fail, repairs)
        if "report" in tasks and "report" in by_task:
            fields["report"] = by_task["report"][0][1].text.strip()
            repairs["empty_reports"] += not fields["report"]
        meta = {"parse_failures": failures} if failures else {}
        if levels:
            meta["levels"] = levels
        if +repairs:
            meta["repairs"] = dict(+repairs)
        self.repairs.update(repairs)
        fields["meta"] = meta or None
        return Record.model_validate(fields)

    def _labels(self, spec, items, fail, levels) -> dict[str, float] | None:
        labels: dict[str, float] = {}
        failed: list[str] = []
        for question, answer in items:
            try:
                if question.target:
                    value, word = parse_level(answer.text)
                    labels[question.target] = value
                    levels[question.target] = word
                else:
                    parsed = parse_label_list(answer.text, self.synonyms)
                    self.unknown_names.update(parsed.unknown_names)
                    labels.update({name: float(name in parsed.positives) for name in spec.labels})
            except AnswerParseError as error:
                fail(question, answer, error)
                failed.extend([question.target] if question.target else spec.labels)
        if failed and self.unparseable_labels == "negative":
            labels.update({name: 0.0 for name in failed})
        return labels or None

    def _geometry(self, sample: Sample, answer: Answer) -> Geometry:
        image = sample.record.image
        if image is None:
            raise ValueError(
                f"record {sample.record.id!r} has no image size: boxes and masks cannot be placed"
            )
        return Geometry(image.width, image.height, self.resize, answer.input_size)

    def _boxes(self, sample, items, fail, repairs) -> list[Box]:
        boxes: list[Box] = []
        for question, answer in items:
            try:
                parsed = parse_boxes(answer.text, self._geometry(sample, answer))
            except AnswerParseError as error:
                fail(question, answer, error)
                continue
            repairs["reordered_boxes"] += parsed.reordered
            repairs["clipped_boxes"] += parsed.clipped
            boxes.extend(Box(label=question.target, bbox=b, score=1.0) for b in parsed.boxes)
        return boxes

    def _masks(self, sample, items, fail, repairs) -> dict[str, Mask]:
        masks: dict[str, Mask] = {}
        for question, answer in items:
            geometry = self._geometry(sample, answer)
            try:
                parsed = parse_polygon(answer.text, geometry)
            except AnswerParseError as error:
                fail(question, answer, error)
                continue
            repairs["clipped_polygon_points"] += parsed.clipped
            if parsed.points:
                rle = polygon_to_rle(list(parsed.points), geometry.height, geometry.width)
            else:
                rle = encode_mask(np.zeros((geometry.height, geometry.width), dtype=bool))
            masks[question.target] = Mask(size=tuple(rle["size"]), counts=rle["counts"])
        return masks

    def summary(self) -> dict[str, Any]:
        """Counts over the answers this process parsed (per-record details are in each prediction's `meta`)."""
        return {
            "answers_parsed": self.answers_parsed,
            "parse_failures": dict(sorted(self.failures.items())),
            "repairs": dict(sorted((+self.repairs).items())),
            "unknown_label_names": dict(self.unknown_names.most_common()),
            "unparseable_labels": self.unparseable_labels,
            "resize": self.resize,
        }


class ImtTextModel(ModelAdapter):
    """Reads `FILE.jsonl` of raw answers; `tasks` are those the file answers under the prompt set's templates."""

    needs_images = False
    score_type = "binary"  # text labels are 0/1: AUC = (TPR + TNR) / 2 per label (docs/models.md)

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
        self.n_lines = self._read()
        self.tasks = frozenset(task for (_, template) in self.index for task in self._tasks_of(template))
        self.sha256 = file_sha256(self.path)

    def _tasks_of(self, template: str) -> list[str]:
        return [task for task, items in self.prompts.templates.items() if template in items]

    def _read(self) -> int:
        if not self.path.is_file():
            raise RecordError(
                self.path, None, "file not found (imt-text:FILE.jsonl needs a JSONL of answers)"
            )
        where: dict[tuple[str, str, str], int] = {}
        n = 0
        templates = [t for items in self.prompts.templates.values() for t in items]
        with open(self.path, encoding="utf-8") as handle:
            for lineno, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                n += 1
                record_id, instruction, answer = self._parse_line(line, lineno)
                for template in templates:
                    target = match_instruction(instruction, template)
                    if target is None:
                        continue
                    if "{}" in template:
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
                    break
                else:
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

    def _answers_for(self, sample: Sample, task: str, spec: TaskSpec) -> dict[Question, Answer]:
        record_id = sample.record.id
        for template in self.prompts.templates[task]:
            given = self.index.get((record_id, template))
            if given is None:
                continue
            answers = {}
            for question in AnswerDecoder.questions(template, task, spec):
                if question.target not in given:
                    raise RecordError(
                        self.path,
                        None,
                        f"no answer for id {record_id!r} to {self.prompts.instruction(template, question.target)!r}",
                    )
                answers[question] = given[question.target]
            return answers
        asked = " or ".join(repr(t) for t in self.prompts.templates[task])
        raise RecordError(self.path, None, f"no {task} answer for id {record_id!r} (instructions {asked})")

    def predict(self, batch: list[Sample], spec: TaskSpec) -> list[Record]:
        tasks = [task for task in TASKS if task in spec.tasks and task in self.tasks]
        records = []
        for sample in batch:
            answers: dict[Question, Answer] = {}
            for task in tasks:
                answers.update(self._answers_for(sample, task, spec))
            records.append(self.decoder.to_record(sample, spec, tasks, answers))
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
            "prompts": self.prompts.to_json(),
            "coordinates": {"bins": 1000, "bin_to_coordinate": "c = k / 999", "resize": self.decoder.resize},
            **self.decoder.summary(),
            "unmatched_instructions": dict(self.unmatched_instructions.most_common(20)),
        }
