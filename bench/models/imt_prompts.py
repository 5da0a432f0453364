"""Instruction templates of IMT-CXR / OmniFM-DR text models: per task, in priority order, each with its meaning.

A template's meaning says what its answer is and where it goes (see docs/models.md):

| meaning      | task           | answer                                   | fills                        |
|--------------|----------------|------------------------------------------|------------------------------|
| `label_list` | classification | comma-joined names (or `Name_0.71,...`)  | labels                       |
| `level`      | classification | a level word: present / absent           | labels                       |
| `boxes`      | localization   | `<bin_x0> <bin_y0> <bin_x1> <bin_y1>` ... | boxes                        |
| `polygon`    | segmentation   | `<bin_x> <bin_y>` pairs                  | masks                        |
| `report`     | report         | the report text                          | report                       |
| `location`   | attributes     | a location word (`right`, `base`, ...)   | meta.attributes[f].location  |
| `severity`   | attributes     | a severity word (`small`, `moderate`...) | meta.attributes[f].severity  |

Templates that fill the same slot are alternatives: the first listed one that has answers for an image wins (the
declared priority); `asked(task)` is what a checkpoint is asked (the first template of each slot).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench.models.base import TASKS
from bench.models.imt_parse import RESIZE_MODES, normalise_instruction

DEFAULT_PROMPTS = Path(__file__).resolve().parent / "prompts" / "imt_cxr.yaml"
ANSWER_TASKS = (*TASKS, "attributes")  # tasks a prompt set may answer: the model tasks plus attributes
MEANINGS: dict[str, tuple[str, ...]] = {
    "classification": ("label_list", "level"),
    "localization": ("boxes",),
    "segmentation": ("polygon",),
    "report": ("report",),
    "attributes": ("location", "severity"),
}
SLOT_OF_MEANING = {
    "label_list": "labels",
    "level": "labels",
    "boxes": "boxes",
    "polygon": "masks",
    "report": "report",
    "location": "location",
    "severity": "severity",
}
_TARGETED = frozenset({"level", "boxes", "polygon", "location", "severity"})  # templates with one {}
_PROMPT_KEYS = (*ANSWER_TASKS, "label_names", "synonyms", "resize")


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def default_meaning(task: str, template: str) -> str | None:
    """The meaning of a template declared without one; None where the task needs it declared (attributes)."""
    if task == "classification":
        return "level" if "{}" in template else "label_list"
    return None if task == "attributes" else MEANINGS[task][0]


@dataclass(frozen=True)
class PromptSet:
    """Instruction templates per task (priority order), their meanings, name maps and the resize convention."""

    templates: dict[str, tuple[str, ...]]
    label_names: dict[str, str] = field(default_factory=dict)
    synonyms: dict[str, str] = field(default_factory=dict)
    resize: str = "stretch"
    source: str = "default"
    sha256: str | None = None
    meanings: dict[str, dict[str, str]] = field(default_factory=dict)  # task -> template -> meaning

    @classmethod
    def load(cls, path: str | Path | None = None) -> PromptSet:
        """The published defaults, with the keys of the YAML file at `path` (if any) replacing theirs."""
        merged = _read_prompt_yaml(DEFAULT_PROMPTS)
        if path is not None:
            merged.update(_read_prompt_yaml(Path(path)))
        templates: dict[str, tuple[str, ...]] = {}
        meanings: dict[str, dict[str, str]] = {}
        for task in ANSWER_TASKS:
            if merged.get(task) is None and task == "attributes":
                continue  # `attributes: null` in a prompt file: no attribute questions
            templates[task], meanings[task] = _task_templates(task, merged[task], path)
        if merged["resize"] not in RESIZE_MODES:
            raise ValueError(f"{path}: resize {merged['resize']!r} is not one of {', '.join(RESIZE_MODES)}")
        return cls(
            templates=templates,
            label_names=dict(merged["label_names"] or {}),
            synonyms=dict(merged["synonyms"] or {}),
            resize=merged["resize"],
            source=str(path) if path is not None else "default",
            sha256=file_sha256(path) if path is not None else file_sha256(DEFAULT_PROMPTS),
            meanings=meanings,
        )

    def meaning(self, task: str, template: str) -> str:
        found = self.meanings.get(task, {}).get(template) or default_meaning(task, template)
        if found is None:
            raise ValueError(f"{task} template {template!r} has no meaning ({' or '.join(MEANINGS[task])})")
        return found

    def slots(self, task: str) -> dict[str, tuple[str, ...]]:
        """slot -> the task's templates that fill it, in priority order (attributes: location, severity)."""
        out: dict[str, list[str]] = {}
        for template in self.templates.get(task, ()):
            out.setdefault(SLOT_OF_MEANING[self.meaning(task, template)], []).append(template)
        return {slot: tuple(items) for slot, items in out.items()}

    def asked(self, task: str) -> tuple[str, ...]:
        """The templates a checkpoint is asked for `task`: the first of each slot."""
        return tuple(items[0] for items in self.slots(task).values())

    def instruction(self, template: str, target: str) -> str:
        return template.replace("{}", self.label_names.get(target, target)) if "{}" in template else template

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "sha256": self.sha256,
            "templates": {task: list(items) for task, items in self.templates.items()},
            "meanings": {
                task: {t: self.meaning(task, t) for t in items} for task, items in self.templates.items()
            },
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


def _task_templates(task: str, value: Any, path: str | Path | None) -> tuple[tuple[str, ...], dict[str, str]]:
    """A task's YAML value (a template, or a list of templates and `{template: meaning}` one-key mappings)."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise ValueError(f"{path}: {task!r} must be a template string or a non-empty list of them")
    templates: list[str] = []
    meanings: dict[str, str] = {}
    seen: dict[str, str] = {}
    for item in items:
        if isinstance(item, dict) and len(item) == 1:
            template, meaning = next(iter(item.items()))
        else:
            template, meaning = item, None
        if not isinstance(template, str) or not template.strip():
            raise ValueError(
                f"{path}: {task!r} entries are template strings or one-key mappings {{template: meaning}}"
            )
        meaning = meaning or default_meaning(task, template)
        if meaning not in MEANINGS[task]:
            raise ValueError(
                f"{path}: {task} template {template!r} needs a meaning, one of {', '.join(MEANINGS[task])} "
                f"(got {meaning!r})"
            )
        _check_template(task, template, meaning, path)
        key = normalise_instruction(template)
        if key in seen:
            raise ValueError(
                f"{path}: {task} templates {seen[key]!r} and {template!r} are the same instruction "
                "(case and spacing are ignored when matching)"
            )
        seen[key] = template
        templates.append(template)
        meanings[template] = meaning
    return tuple(templates), meanings


def _check_template(task: str, template: str, meaning: str, path: str | Path | None) -> None:
    holes = template.count("{}")
    if meaning in _TARGETED and holes != 1:
        what = "label / structure" if task != "attributes" else "finding"
        raise ValueError(f"{path}: {task} template {template!r} must have exactly one {{}} (the {what})")
    if meaning not in _TARGETED and holes:
        raise ValueError(
            f"{path}: {task} template {template!r} must have no {{}}"
            + (" (a per-label template is a level question)" if task == "classification" else "")
        )
