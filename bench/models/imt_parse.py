"""Pure parsers for IMT-CXR / OmniFM-DR style text answers (no file I/O; see docs/models.md).

Location tokens: `<bin_k>`, k in 0..999, 1000 bins over the image the model saw: k = round(c * 999) for a
normalised coordinate c in [0, 1], so c = k / 999. Boxes are `<bin_x0> <bin_y0> <bin_x1> <bin_y1>`, polygons a
sequence of `<bin_x> <bin_y>` pairs. `c` maps back to original-image pixels according to how the model's input
was made from the original image (`RESIZE_MODES`).

Every parser raises `AnswerParseError` with a reason instead of guessing.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bench.datasets.vocabulary import MAPS, STRUCTURES, VOCABULARY

NUM_BINS = 1000
MAX_BIN = NUM_BINS - 1

# stretch: the whole image, nothing padded or cropped, resized with or without keeping its aspect (OFA / IMT-CXR,
# Qwen2-VL smart_resize, Gemma 3, Idefics3 / SmolVLM tiles): a coordinate spans the original image; pad: centred on
# a square canvas of side max(W, H) then resized (LLaVA "expand2square"); center_crop: shortest side resized,
# centre square kept (CLIP). bench/models/hf_geometry.py says which one a Hugging Face processor makes.
RESIZE_MODES = ("stretch", "pad", "center_crop")

_BIN_TOKEN = re.compile(r"<bin_(\d+)>")
_BIN_LIKE = re.compile(r"bin_", re.IGNORECASE)
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([?.!,;:])")

# Whole-answer phrases that mean "nothing to report": an empty box list / empty mask / no positive label.
NEGATIVE_ANSWERS = frozenset(
    {"none", "no", "nothing", "normal", "no finding", "no findings", "negative", "absent", "not found",
     "not present", "no abnormality", "no lesion", "no disease", "nil"}
)  # fmt: skip
_NEGATIVE_PREFIXES = ("no ", "there is no ", "there are no ", "not ", "none ")

# Answers to "What is the level of {} ?": the first word decides presence.
LEVEL_ABSENT = frozenset({"none", "no", "normal", "absent", "negative", "nil"})
LEVEL_PRESENT = frozenset(
    {"yes", "present", "positive", "minimal", "mild", "slight", "small", "moderate", "medium", "severe",
     "large", "marked", "massive", "extensive", "significant"}
)  # fmt: skip

# Answer names beyond the vocabulary and the datasets' own names (lower-case key -> vocabulary name).
EXTRA_SYNONYMS = {
    "effusion": "Pleural Effusion",
    "pleural effusions": "Pleural Effusion",
    "infiltrate": "Infiltration",
    "infiltrates": "Infiltration",
    "nodules": "Nodule",
    "masses": "Mass",
    "pulmonary edema": "Edema",
    "oedema": "Edema",
    "pulmonary fibrosis": "Fibrosis",
    "enlarged heart": "Cardiomegaly",
    "cardiac enlargement": "Cardiomegaly",
    "tb": "Tuberculosis",
    "pulmonary tuberculosis": "Tuberculosis",
    "normal": "No Finding",
    "no findings": "No Finding",
    "no abnormality": "No Finding",
    "nodule mass": "Nodule/Mass",
    "interstitial lung disease": "ILD",
    "foreign body": "Foreign Object",
    "support device": "Support Devices",
}


class AnswerParseError(ValueError):
    """The answer does not follow the grammar of its instruction; the message says why."""


def normalise_name(text: str) -> str:
    """Lower-case, `_` / `-` as spaces, single spaces, no surrounding punctuation: the key for name lookups."""
    text = text.replace("_", " ").replace("-", " ").casefold()
    return " ".join(text.split()).strip(" .;:!?\"'")


def normalise_instruction(text: str) -> str:
    """Case- and spacing-insensitive form of an instruction ("Where is Nodule ?" == "where is nodule?")."""
    return _SPACE_BEFORE_PUNCT.sub(r"\1", " ".join(text.split())).casefold()


def build_synonyms(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Lower-case answer name -> vocabulary name: the vocabulary, every dataset's own names, EXTRA_SYNONYMS,
    the anatomical structures, then `extra` (a prompt file's `synonyms`, which win)."""
    table: dict[str, str] = {}
    for dataset_map in MAPS.values():
        for publisher_name, vocab_name in dataset_map.items():
            table[normalise_name(publisher_name)] = vocab_name
    for name in (*VOCABULARY, *STRUCTURES):
        table[normalise_name(name)] = name
    table.update({normalise_name(k): v for k, v in EXTRA_SYNONYMS.items()})
    for key, value in (extra or {}).items():
        table[normalise_name(key)] = value
    return table


def is_negative_answer(text: str) -> bool:
    key = normalise_name(text)
    return key in NEGATIVE_ANSWERS or key.startswith(_NEGATIVE_PREFIXES)


# ----------------------------------------------------------------------------- labels


@dataclass(frozen=True)
class LabelAnswer:
    positives: frozenset[str]  # vocabulary names the answer names
    unknown_names: tuple[str, ...]  # items no synonym matched (reported, never guessed)
    # OmniFM-DR's scored list (utils/eval_utils.py:170-184): vocabulary name -> score in [0, 1]; None for a plain
    # list. Names it does not list scored <= 0.5 there and are given 0.0 by the decoder.
    scores: dict[str, float] | None = None


# A scored item of eval_vqa_gen: `index2ans[k] + "_" + "{:.4f}".format(score)` (utils/eval_utils.py:178), or the
# `"No Finding_100"` it writes when no candidate scores above 0.5 (:179-180), read as certainty (1.0).
_SCORED_ITEM = re.compile(r"(?P<name>.+?)_(?P<score>\d+(?:\.\d+)?)")
_CERTAIN_SCORE = "100"
# A list item is a name when it is short (OmniFM-DR's longest MIMIC name, "calcification of the aorta", has four
# words: joint_multi_instructs_dataset.py:281), made of letters (and / ( ) & + '), with none of these words.
MAX_NAME_WORDS = 5
_NAME_ITEM = re.compile(r"[a-z][a-z '/()&+]*")
_NOT_NAME_WORDS = frozenset(
    {"i", "it", "its", "this", "that", "these", "those", "there", "here", "you", "we", "is", "are", "was",
     "were", "be", "been", "can", "cannot", "could", "may", "might", "should", "would", "see", "seen", "show",
     "shows", "look", "looks", "seems", "think", "image", "picture", "sorry", "unable", "yes", "answer"}
)  # fmt: skip


def _is_name(key: str) -> bool:
    words = key.split()
    return (
        bool(_NAME_ITEM.fullmatch(key))
        and len(words) <= MAX_NAME_WORDS
        and not _NOT_NAME_WORDS.intersection(words)
    )


def parse_label_list(answer: str, synonyms: Mapping[str, str]) -> LabelAnswer:
    """Comma- (or semicolon-) joined label names -> vocabulary names: the COMPLETE list of positive findings.

    Names no synonym matches (MIMIC long-tail names such as "tortuous aorta") are reported in `unknown_names`;
    an answer of unknown names only is a valid list with no in-vocabulary positive. A negative answer ("No
    Finding", "none", "normal") gives no positive except `No Finding` where that is its synonym. OmniFM-DR's
    scored list (`Edema_0.7312,Atelectasis_0.6100`, `No Finding_100`) gives `scores`.

    Fails on an empty answer, location tokens, an item that is not a name (a sentence: more than
    MAX_NAME_WORDS words, digits or punctuation, or a verb / pronoun such as "is", "there", "i"), a mix of
    scored and unscored items, or a score outside [0, 1] (other than eval_vqa_gen's `_100`).
    """
    if not answer.strip():
        raise AnswerParseError("empty answer")
    if _BIN_LIKE.search(answer):
        raise AnswerParseError("location tokens in a label answer")
    items = [item.strip() for item in re.split(r"[,;]", answer) if normalise_name(item)]
    if not items:
        raise AnswerParseError("no label name in the answer")
    scored = [_SCORED_ITEM.fullmatch(item) for item in items]
    if any(scored):
        if not all(scored):
            raise AnswerParseError(
                "mixes scored (Name_0.71) and unscored items: "
                + ", ".join(repr(item) for item, m in zip(items, scored, strict=True) if m is None)
            )
        return _scored_list(scored, synonyms)  # type: ignore[arg-type]  # all matched
    positives: set[str] = set()
    unknown: list[str] = []
    for item in items:
        key = normalise_name(item)
        if key in synonyms:
            positives.add(synonyms[key])
        elif is_negative_answer(key):
            continue
        elif _is_name(key):
            unknown.append(key)
        else:
            raise AnswerParseError(f"{key!r} is not a label name: the answer is not a list of findings")
    return LabelAnswer(frozenset(positives), tuple(unknown))


def _scored_list(matches: list[re.Match[str]], synonyms: Mapping[str, str]) -> LabelAnswer:
    scores: dict[str, float] = {}
    unknown: list[str] = []
    for match in matches:
        key, text = normalise_name(match["name"]), match["score"]
        score = 1.0 if text == _CERTAIN_SCORE else float(text)
        if not 0.0 <= score <= 1.0:
            raise AnswerParseError(f"score {text} of {match['name']!r} is outside [0, 1]")
        if key in synonyms:
            name = synonyms[key]
            scores[name] = max(score, scores.get(name, 0.0))
        elif not is_negative_answer(key):
            unknown.append(key)
    return LabelAnswer(frozenset(scores), tuple(unknown), scores)


def parse_level(answer: str) -> tuple[float, str]:
    """Answer to "What is the level of X ?" -> (1.0 present / 0.0 absent, the level word)."""
    words = normalise_name(answer).split()
    if not words:
        raise AnswerParseError("empty answer")
    word = words[0].strip(",.;:")
    if word in LEVEL_PRESENT:
        return 1.0, word
    if word in LEVEL_ABSENT:
        return 0.0, word
    raise AnswerParseError(
        f"{word!r} is not a level word ({', '.join(sorted(LEVEL_PRESENT | LEVEL_ABSENT))})"
    )


# ----------------------------------------------------------------------------- location tokens


def parse_bins(answer: str) -> list[int]:
    """All `<bin_k>` tokens in order; text around them is ignored. Fails on malformed or out-of-range tokens."""
    bins = [int(k) for k in _BIN_TOKEN.findall(answer)]
    malformed = len(_BIN_LIKE.findall(answer)) - len(bins)
    if malformed:
        raise AnswerParseError(
            f"{malformed} malformed location token(s) (expected <bin_k> with 0 <= k <= 999)"
        )
    out_of_range = [k for k in bins if k > MAX_BIN]
    if out_of_range:
        raise AnswerParseError(f"location bin(s) {out_of_range} outside 0..{MAX_BIN}")
    return bins


@dataclass(frozen=True)
class Geometry:
    """How the model's input was made from the original image, in original pixels."""

    width: int  # original image
    height: int
    resize: str = "stretch"
    input_size: tuple[int, int] | None = None  # [H, W] the model saw (recorded; cancels out of the mapping)

    def __post_init__(self) -> None:
        if self.resize not in RESIZE_MODES:
            raise ValueError(f"resize mode {self.resize!r} is not one of {', '.join(RESIZE_MODES)}")
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"image size {self.width}x{self.height} is not positive")
        if self.input_size is not None and not (
            len(self.input_size) == 2 and all(isinstance(v, int) and v > 0 for v in self.input_size)
        ):
            raise ValueError(f"image_size {self.input_size} is not [H, W] with two positive integers")

    def to_pixels(self, kx: int, ky: int) -> tuple[float, float]:
        """Bin pair -> (x, y) in original pixels, unclipped."""
        cx, cy = kx / MAX_BIN, ky / MAX_BIN
        if self.resize == "stretch":
            in_h, in_w = self.input_size or (self.height, self.width)
            # coordinate in the resized input, then scaled back: in_w cancels, kept to mirror the definition
            return cx * in_w * (self.width / in_w), cy * in_h * (self.height / in_h)
        if self.resize == "pad":
            side = max(self.width, self.height)
            return cx * side - (side - self.width) / 2, cy * side - (side - self.height) / 2
        side = min(self.width, self.height)
        return cx * side + (self.width - side) / 2, cy * side + (self.height - side) / 2

    def clip(self, x: float, y: float) -> tuple[float, float, bool]:
        cx, cy = min(max(x, 0.0), float(self.width)), min(max(y, 0.0), float(self.height))
        return cx, cy, (cx, cy) != (x, y)


@dataclass(frozen=True)
class BoxAnswer:
    boxes: tuple[tuple[float, float, float, float], ...]  # [x0, y0, x1, y1] original pixels
    reordered: int = 0  # boxes given with x1 < x0 or y1 < y0 (corners swapped back)
    clipped: int = 0  # boxes reaching outside the image (padding area), clipped to it


def parse_boxes(answer: str, geometry: Geometry) -> BoxAnswer:
    """Groups of four bins -> boxes in original pixels. No tokens: a negative answer means no box, else a failure."""
    bins = parse_bins(answer)
    if not bins:
        if answer.strip() and is_negative_answer(answer):
            return BoxAnswer(())
        raise AnswerParseError("no location tokens" if answer.strip() else "empty answer")
    if len(bins) % 4:
        raise AnswerParseError(
            f"{len(bins)} location tokens: a box needs 4 (<bin_x0> <bin_y0> <bin_x1> <bin_y1>)"
        )
    boxes, reordered, clipped = [], 0, 0
    for i in range(0, len(bins), 4):
        x0, y0 = geometry.to_pixels(bins[i], bins[i + 1])
        x1, y1 = geometry.to_pixels(bins[i + 2], bins[i + 3])
        if x1 < x0 or y1 < y0:
            reordered += 1
            x0, x1 = sorted((x0, x1))
            y0, y1 = sorted((y0, y1))
        x0, y0, c0 = geometry.clip(x0, y0)
        x1, y1, c1 = geometry.clip(x1, y1)
        clipped += c0 or c1
        boxes.append((x0, y0, x1, y1))
    return BoxAnswer(tuple(boxes), reordered, clipped)


@dataclass(frozen=True)
class PolygonAnswer:
    points: tuple[tuple[float, float], ...]  # original pixels; empty = a negative answer (empty mask)
    clipped: int = 0  # vertices outside the image, clipped to it


def parse_polygon(answer: str, geometry: Geometry) -> PolygonAnswer:
    """`<bin_x> <bin_y>` pairs -> polygon vertices in original pixels (at least 3)."""
    bins = parse_bins(answer)
    if not bins:
        if answer.strip() and is_negative_answer(answer):
            return PolygonAnswer(())
        raise AnswerParseError("no location tokens" if answer.strip() else "empty answer")
    if len(bins) % 2:
        raise AnswerParseError(f"{len(bins)} location tokens: a polygon needs x/y pairs")
    if len(bins) < 6:
        raise AnswerParseError(f"{len(bins) // 2} point(s): a polygon needs at least 3")
    points, clipped = [], 0
    for i in range(0, len(bins), 2):
        x, y, was_clipped = geometry.clip(*geometry.to_pixels(bins[i], bins[i + 1]))
        clipped += was_clipped
        points.append((x, y))
    return PolygonAnswer(tuple(points), clipped)


# ----------------------------------------------------------------------------- instructions


def template_regex(template: str) -> re.Pattern[str]:
    """A template with at most one `{}` -> regex over normalised instructions capturing the target name."""
    if template.count("{}") > 1:
        raise ValueError(f"instruction template {template!r} has more than one {{}}")
    head, _, tail = normalise_instruction(template).partition("{}")
    if "{}" not in template:
        return re.compile(re.escape(head) + r"\Z")
    return re.compile(re.escape(head) + r"(.+?)" + re.escape(tail) + r"\Z")


def match_instruction(instruction: str, template: str) -> str | None:
    """The target the instruction names under `template` ("" when the template has no `{}`), or None."""
    found = template_regex(template).match(normalise_instruction(instruction))
    if found is None:
        return None
    return found.group(1).strip() if found.groups() else ""


def summarise_answer_meta(metas: Iterable[Mapping[str, Any] | None]) -> dict[str, dict[str, int]]:
    """Counts from prediction records' `meta`: parse failures per instruction template, repairs, unknown label
    names, answers used per template, answers superseded by a higher-priority template, and records per
    classification score type. The numbers for a manifest, right however many resumed or sharded processes
    wrote the predictions file."""
    failures: Counter[str] = Counter()
    counters: dict[str, Counter[str]] = {key: Counter() for key in _COUNTED_META}
    score_types: Counter[str] = Counter()
    for meta in metas:
        meta = meta or {}
        failures.update(failure["template"] for failure in meta.get("parse_failures", []))
        for key, counter in counters.items():
            counts = meta.get(key)
            if isinstance(counts, Mapping):  # other adapters' meta may use these keys otherwise
                counter.update({k: v for k, v in counts.items() if isinstance(v, int)})
        if isinstance(meta.get("score_type"), str):
            score_types[meta["score_type"]] += 1
    out = {"parse_failures": dict(sorted(failures.items()))}
    for key, counter in counters.items():
        out[key] = (
            dict(counter.most_common()) if key == "unknown_label_names" else dict(sorted(counter.items()))
        )
    out["score_types"] = dict(sorted(score_types.items()))
    return out


# Per-record count mappings summed over a predictions file.
_COUNTED_META = ("repairs", "unknown_label_names", "answers_per_template", "answers_superseded")
