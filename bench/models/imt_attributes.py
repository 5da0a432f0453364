"""Pure parsers for answers to the attribute questions of IMT-CXR / OmniFM-DR (`Where is {} ?` -> a location
word, `What is the level of {} ?` -> a severity word), in the terms of the ground truth's attribute rules
(`bench.datasets.attributes`: LOCATIONS, SEVERITY_GRADES), so that they can be compared with it.

OmniFM-DR answers the location question with ONE word of its vocabulary (data/pretrain_data/
joint_multi_instructs_dataset.py:1419: right, left, mid, base, lower lobe, bibasilar, basilar; github.com/MedHK23/
OmniFM-DR at 9a2354c). Its words map to the ground-truth terms as the ground-truth rules read them in a report
("base" / "basilar" -> basal, "bibasilar" -> bilateral + basal). Two are read as follows: "mid" -> middle zone
(the ground truth's "mid lung / mid zone"), and "lower lobe" -> no term, since the ground truth names a lobe with
its side only (as there, the one side stated in the same answer gives it: "lower lobe, left" -> left lower lobe). The ground
truth's own terms (LOCATIONS) are accepted as they are. Severity words are those of the ground-truth rules, the
highest stated grade wins ("small to moderate" -> moderate).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bench.datasets.attributes import LOCATIONS, SEVERITY_GRADES
from bench.models.imt_parse import _BIN_LIKE, AnswerParseError, is_negative_answer, normalise_name

# answer phrase -> ground-truth location terms (bench.datasets.attributes); longest phrases are matched first
LOCATION_PHRASES: dict[str, tuple[str, ...]] = {
    **{term: (term,) for term in LOCATIONS},
    **{f"{side} {zone} lobe": (side, f"{side} {zone} lobe") for side in ("right", "left") for zone in ("upper", "lower")},
    "right middle lobe": ("right", "right middle lobe"),
    "lingula": ("left", "lingula"),
    "lingular": ("left", "lingula"),
    "middle lobe": ("right", "right middle lobe"),
    "lower lobe": (),  # no side: the ground truth has no unsided lobe
    "upper lobe": (),
    "base": ("basal",),
    "bases": ("bilateral", "basal"),
    "basilar": ("basal",),
    "bibasilar": ("bilateral", "basal"),
    "bibasal": ("bilateral", "basal"),
    "apex": ("apical",),
    "apices": ("bilateral", "apical"),
    "mid": ("middle zone",),
    "mid zone": ("middle zone",),
    "mid lung": ("middle zone",),
    "upper lung": ("upper zone",),
    "lower lung": ("lower zone",),
    "parahilar": ("perihilar",),
    "both": ("bilateral",),
}  # fmt: skip
_LOCATION_PATTERN = re.compile(
    r"\b(" + "|".join(re.escape(p) for p in sorted(LOCATION_PHRASES, key=len, reverse=True)) + r")\b"
)
_LOCATION_ORDER = {term: i for i, term in enumerate(LOCATIONS)}
_UNSIDED_LOBES = ("upper lobe", "lower lobe")

# The ground truth's severity words (bench/datasets/attributes.py, module docstring and _SEVERITY_WORDS).
SEVERITY_WORDS: dict[str, str] = {
    **dict.fromkeys(("trace", "tiny", "minimal", "minimally", "small", "mild", "mildly", "slight", "slightly"), "mild"),
    **dict.fromkeys(("moderate", "moderately"), "moderate"),
    **dict.fromkeys(("large", "severe", "severely", "extensive", "massive", "marked", "markedly", "substantial",
                     "sizable", "huge"), "severe"),
}  # fmt: skip
_SEVERITY_PATTERN = re.compile(r"\b(" + "|".join(SEVERITY_WORDS) + r")\b")


@dataclass(frozen=True)
class LocationAnswer:
    terms: tuple[str, ...]  # ground-truth location terms, canonical order; () for a negative answer
    words: tuple[str, ...]  # the location phrases found


@dataclass(frozen=True)
class SeverityAnswer:
    grade: str | None  # mild | moderate | severe; None for a negative answer
    words: tuple[str, ...]


def canonical_locations(terms: set[str]) -> tuple[str, ...]:
    """As the ground truth: right and left (or bilateral) -> bilateral without the single sides; fixed order."""
    if "bilateral" in terms or {"right", "left"} <= terms:
        terms = (terms - {"right", "left"}) | {"bilateral"}
    return tuple(sorted(terms, key=_LOCATION_ORDER.__getitem__))


def _words(answer: str) -> str:
    if not answer.strip():
        raise AnswerParseError("empty answer")
    if _BIN_LIKE.search(answer):
        raise AnswerParseError("location tokens in a word answer (this question is answered with a word)")
    return normalise_name(answer).replace(",", " ")


def parse_location(answer: str) -> LocationAnswer:
    """Answer to "Where is X ?" -> ground-truth location terms. A negative answer ("none", "no ...") gives no
    location; an answer without a location word fails."""
    text = _words(answer)
    phrases = tuple(_LOCATION_PATTERN.findall(text))
    if not phrases:
        if is_negative_answer(text):
            return LocationAnswer((), ())
        raise AnswerParseError(f"no location word in {text!r} (e.g. {', '.join(list(LOCATION_PHRASES)[:6])})")
    terms = {term for phrase in phrases for term in LOCATION_PHRASES[phrase]}
    sides = terms & {"right", "left"}
    for phrase in phrases:
        if phrase in _UNSIDED_LOBES and len(sides) == 1:  # as the ground truth: the one side stated with it
            terms.add(f"{next(iter(sides))} {phrase}")
    return LocationAnswer(canonical_locations(terms), phrases)


def parse_severity(answer: str) -> SeverityAnswer:
    """Answer to "What is the level of X ?" -> mild | moderate | severe (highest stated). A negative answer gives
    no grade; an answer without a severity word fails."""
    text = _words(answer)
    words = tuple(_SEVERITY_PATTERN.findall(text))
    if not words:
        if is_negative_answer(text):
            return SeverityAnswer(None, ())
        raise AnswerParseError(f"no severity word in {text!r} ({', '.join(SEVERITY_WORDS)})")
    grade = max((SEVERITY_WORDS[w] for w in words), key=SEVERITY_GRADES.index)
    return SeverityAnswer(grade, words)
