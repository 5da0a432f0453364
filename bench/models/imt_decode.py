"""Decoding one image's IMT-CXR / OmniFM-DR text answers into a prediction record (`AnswerDecoder`), with every
unparseable answer accounted for; shared by `imt-text:` (bench/models/imt_text.py) and `hf:DIR`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.metrics.segmentation import encode_mask, polygon_to_rle
from bench.models.base import Sample, TaskSpec
from bench.models.imt_attributes import parse_location, parse_severity
from bench.models.imt_parse import (
    RESIZE_MODES,
    AnswerParseError,
    Geometry,
    build_synonyms,
    normalise_name,
    parse_boxes,
    parse_label_list,
    parse_level,
    parse_polygon,
)
from bench.models.imt_prompts import SLOT_OF_MEANING, PromptSet
from bench.records import Box, Mask, Record

UNPARSEABLE_LABEL_RULES = ("absent", "negative")
_MAX_ANSWER_IN_META = 300
SCORE_CONVENTION = (
    "a plain label list gives 1.0 to the labels it names and 0.0 to the others (score_type binary); "
    "OmniFM-DR's scored list (utils/eval_utils.py:170-184, 'Edema_0.7312,Atelectasis_0.6100') gives each "
    "listed label its score and 0.0 to the unlisted ones, which scored <= 0.5 there ('No Finding_100', "
    "written when no label passes 0.5, is 1.0) (score_type continuous); per record in meta.score_type"
)


@dataclass(frozen=True)
class Question:
    task: str
    template: str
    target: str  # vocabulary label / structure / finding; "" for whole-image questions


@dataclass(frozen=True)
class Answer:
    text: str
    input_size: tuple[int, int] | None = None  # [H, W] the model saw


Fail = Callable[[Question, Answer, AnswerParseError], None]


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
        self._meanings = {
            (task, t): prompts.meaning(task, t) for task, items in prompts.templates.items() for t in items
        }
        self.failures: Counter[str] = Counter()  # template -> unparseable answers
        self.repairs: Counter[str] = Counter()
        self.unknown_names: Counter[str] = Counter()
        self.answers_per_template: Counter[str] = Counter()  # answers used, per template
        self.superseded: Counter[str] = Counter()  # answers outranked by a higher-priority template
        self.score_types: Counter[str] = Counter()  # records per classification score type
        self.answers_parsed = 0

    @staticmethod
    def questions(template: str, task: str, spec: TaskSpec) -> list[Question]:
        targets = {
            "classification": spec.labels,
            "localization": spec.box_labels,
            "segmentation": spec.structures,
            "attributes": spec.labels,
        }
        if "{}" not in template:
            return [Question(task, template, "")]
        return [Question(task, template, name) for name in targets.get(task, [])]

    def meaning(self, question: Question) -> str:
        found = self._meanings.get((question.task, question.template))
        return found or self.prompts.meaning(question.task, question.template)

    def vocabulary_name(self, name: str) -> str | None:
        """A target as written in an instruction -> vocabulary name (via label_names reversed, then synonyms)."""
        key = normalise_name(name)
        return self._model_names.get(key) or self.synonyms.get(key)

    def to_record(
        self,
        sample: Sample,
        spec: TaskSpec,
        tasks: list[str],
        answers: dict[Question, Answer],
        superseded: Mapping[str, int] | None = None,
    ) -> Record:
        """`tasks` are the tasks asked: each gets its field even when it had no question (e.g. no box label);
        "attributes" goes to `meta["attributes"]`. `superseded`: answers outranked by a higher-priority template
        (template -> count), recorded in meta for the manifest."""
        base = sample.record
        fields: dict[str, Any] = {"id": base.id, "image": base.image}
        failures: list[dict[str, str]] = []
        repairs: Counter[str] = Counter()
        meta: dict[str, Any] = {}

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

        by_slot: dict[str, list[tuple[Question, Answer]]] = {}
        used: Counter[str] = Counter()
        for question, answer in answers.items():
            slot = SLOT_OF_MEANING[self.meaning(question)]
            by_slot.setdefault(slot, []).append((question, answer))
            used[question.template] += 1
            self.answers_parsed += 1
        if "classification" in tasks:
            fields["labels"] = self._labels(spec, by_slot.get("labels", []), fail, meta)
        if "localization" in tasks:
            fields["boxes"] = self._boxes(sample, by_slot.get("boxes", []), fail, repairs)
        if "segmentation" in tasks:
            fields["masks"] = self._masks(sample, by_slot.get("masks", []), fail, repairs)
        if "report" in tasks and "report" in by_slot:
            fields["report"] = by_slot["report"][0][1].text.strip()
            repairs["empty_reports"] += not fields["report"]
        if "attributes" in tasks:
            meta["attributes"] = self._attributes(
                by_slot.get("location", []) + by_slot.get("severity", []), fail, meta
            )
        if failures:
            meta["parse_failures"] = failures
        if +repairs:
            meta["repairs"] = dict(+repairs)
        if used:
            meta["answers_per_template"] = dict(sorted(used.items()))
        if superseded and +Counter(superseded):
            meta["answers_superseded"] = dict(sorted((+Counter(superseded)).items()))
            self.superseded.update(superseded)
        self.repairs.update(repairs)
        self.answers_per_template.update(used)
        fields["meta"] = dict(sorted(meta.items())) or None
        return Record.model_validate(fields)

    def _labels(self, spec: TaskSpec, items, fail: Fail, meta: dict[str, Any]) -> dict[str, float] | None:
        labels: dict[str, float] = {}
        failed: list[str] = []
        levels: dict[str, str] = {}
        unknown: Counter[str] = Counter()
        score_type = "binary"
        for question, answer in items:
            try:
                if question.target:
                    value, word = parse_level(answer.text)
                    labels[question.target] = value
                    levels[question.target] = word
                else:
                    parsed = parse_label_list(answer.text, self.synonyms)
                    unknown.update(parsed.unknown_names)
                    if parsed.scores is not None:
                        labels.update({name: parsed.scores.get(name, 0.0) for name in spec.labels})
                        score_type = "continuous"
                    else:
                        labels.update({name: float(name in parsed.positives) for name in spec.labels})
            except AnswerParseError as error:
                fail(question, answer, error)
                failed.extend([question.target] if question.target else spec.labels)
        if failed and self.unparseable_labels == "negative":
            labels.update({name: 0.0 for name in failed})
        if levels:
            meta["levels"] = levels
        if unknown:
            meta["unknown_label_names"] = dict(unknown.most_common())
            self.unknown_names.update(unknown)
        if labels:
            meta["score_type"] = score_type
            self.score_types[score_type] += 1
        return labels or None

    def _attributes(self, items, fail: Fail, meta: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """finding -> {"location": [...], "severity": grade | None, "size_mm": None} (the ground truth's shape)."""
        found: dict[str, dict[str, Any]] = {}
        words: dict[str, dict[str, str]] = {}
        for question, answer in items:
            meaning = self.meaning(question)
            try:
                if meaning == "location":
                    location = parse_location(answer.text)
                    value: Any = list(location.terms)
                    said = location.words
                else:
                    severity = parse_severity(answer.text)
                    value, said = severity.grade, severity.words
            except AnswerParseError as error:
                fail(question, answer, error)
                continue
            entry = found.setdefault(question.target, {"location": [], "severity": None, "size_mm": None})
            entry[meaning] = value
            words.setdefault(question.target, {})[meaning] = " ".join(said) or "none"
        if words:
            meta["attribute_words"] = words
        return found

    def _geometry(self, sample: Sample, answer: Answer) -> Geometry:
        image = sample.record.image
        if image is None:
            raise ValueError(
                f"record {sample.record.id!r} has no image size: boxes and masks cannot be placed"
            )
        return Geometry(image.width, image.height, self.resize, answer.input_size)

    def _boxes(self, sample: Sample, items, fail: Fail, repairs: Counter[str]) -> list[Box]:
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

    def _masks(self, sample: Sample, items, fail: Fail, repairs: Counter[str]) -> dict[str, Mask]:
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

    @property
    def score_type(self) -> str:
        """binary / continuous / mixed over the records this process decoded (binary before any)."""
        kinds = sorted(kind for kind, n in self.score_types.items() if n)
        return kinds[0] if len(kinds) == 1 else ("mixed" if kinds else "binary")

    def summary(self) -> dict[str, Any]:
        """Counts over the answers this process parsed (per-record details are in each prediction's `meta`)."""
        return {
            "answers_parsed": self.answers_parsed,
            "answers_per_template": dict(sorted(self.answers_per_template.items())),
            "answers_superseded": dict(sorted((+self.superseded).items())),
            "parse_failures": dict(sorted(self.failures.items())),
            "repairs": dict(sorted((+self.repairs).items())),
            "unknown_label_names": dict(self.unknown_names.most_common()),
            "score_types": dict(sorted(self.score_types.items())),
            "unparseable_labels": self.unparseable_labels,
            "resize": self.resize,
        }
