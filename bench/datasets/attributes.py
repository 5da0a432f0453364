"""Location and severity attributes of the findings a chest X-ray report states (rule-based, pure, fast).

`finding_attributes(report)` -> {finding: {"location": [...], "severity": grade | None, "size_mm": mm | None}}
for every CheXpert finding with a positive or hedged (uncertain) mention in the FINDINGS / IMPRESSION text.
Findings whose every mention is negated are absent; a stated finding without attribute words gets
`{"location": [], "severity": None, "size_mm": None}`.

Mentions, negation and hedging come from `bench.metrics.labeler` (its CheXpert phrase lexicon, sentence
preparation and clause-scoped negation rules, so "no change in the small left effusion" is a positive mention and
"no left effusion" a negated one). Anatomy mentions with a size statement count for Cardiomegaly ("the heart is
mildly enlarged"). "No Finding" helper phrases are not findings here.

Vocabulary (report words -> canonical terms, listed in this order in `location`):
  laterality  right, left, bilateral ("bilateral(ly)", "both lungs/bases/...", "bibasilar", "apices", "bases";
              a finding given both right and left is "bilateral", and "bilateral" drops the single sides)
  zone        upper zone, middle zone, lower zone ("upper/mid/middle/lower (lung) zone/field", "lower lung(s)")
  region      apical (apex, apices, apical), basal (base(s), basal, basilar, bibasilar, bibasal),
              retrocardiac ("retrocardiac", "behind the heart"), perihilar (perihilar, parahilar)
  lobe        right upper lobe, right middle lobe, right lower lobe, left upper lobe, lingula, left lower lobe
              ("right lower lobe", "RLL", ..., "lingula(r)"; a lobe implies its side; "lower lobe" without a side
              takes the one side stated next to it; "middle lobe" is the right's)
Severity grades, the highest stated wins ("small to moderate" -> moderate):
  mild      trace, tiny, minimal(ly), small, mild(ly), slight(ly)
  moderate  moderate(ly)
  severe    large, severe(ly), extensive, massive, marked(ly), substantial, sizable, huge
Size: the largest "N mm" / "N cm" / "A x B cm" measurement, in mm.

Scope rules: attribute words belong to a mention when they are in the same sentence and clause (the labeler's
clause breaks: "with", "but", "which", ";", ...), in the same segment of that clause (segments split at commas
and at "and" / "or" / "as well as"), so "small left effusion and right lower lobe consolidation" gives each
finding its own words. A segment with attribute words but no mention ("..., left greater than right") joins the
nearest mention segment before it in the clause, else after it; one before any mention of the sentence ("On the
left, there is ...") joins the next mention. A mention with no location of its own that is coordinated with the
next mention ("atelectasis and consolidation in the left lower lobe") shares the locations stated after that
mention. Words in a negated mention's segment are consumed and dropped. Several mentions of one finding merge
(union of locations, highest grade, largest size).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

from bench.metrics.labeler.lexicon import Lexicon, load_lexicon
from bench.metrics.labeler.rules import (
    NEGATIVE,
    POSITIVE,
    UNCERTAIN,
    classify_anatomy,
    classify_finding,
    clause_breaks,
    mask_pseudo_negations,
)
from bench.metrics.labeler.text import prepare

SIDES = ("right", "left", "bilateral")
ZONES = ("upper zone", "middle zone", "lower zone")
REGIONS = ("apical", "basal", "retrocardiac", "perihilar")
LOBES = (
    "right upper lobe",
    "right middle lobe",
    "right lower lobe",
    "left upper lobe",
    "lingula",
    "left lower lobe",
)
LOCATIONS = SIDES + ZONES + REGIONS + LOBES
SEVERITY_GRADES = ("mild", "moderate", "severe")

_LOCATION_ORDER = {term: i for i, term in enumerate(LOCATIONS)}
_ZONE_WORD = {"upper": "upper", "mid": "middle", "middle": "middle", "lower": "lower"}
_LOBE_ABBREVIATION = {
    "rul": "right upper lobe",
    "rml": "right middle lobe",
    "rll": "right lower lobe",
    "lul": "left upper lobe",
    "lll": "left lower lobe",
}
_LOCATION_WORDS = re.compile(
    r"\b(?P<lobe>(?P<lobe_side>right|left)[- ](?P<lobe_zone>upper|middle|lower) lobes?)\b"
    r"|\b(?P<bare_lobe>(?P<bare_zone>upper|middle|lower) lobes?)\b"
    r"|\b(?P<abbreviation>rul|rml|rll|lul|lll)\b"
    r"|\b(?P<lingula>lingula|lingular)\b"
    r"|\b(?P<zone>upper|mid|middle|lower)(?:[- ]lung)?[- ](?:zones?|fields?)\b"
    r"|\b(?P<lung_zone>upper|mid|lower)[- ]lungs?\b"
    r"|\b(?P<both_apical>apices|biapical)\b|\b(?P<apical>apex|apical|apically|apicolateral)\b"
    r"|\b(?P<both_basal>bases|bibasilar|bibasal|bibasally)\b|\b(?P<basal>base|basal|basilar|basally)\b"
    r"|\b(?P<retrocardiac>retrocardiac|behind the heart)\b"
    r"|\b(?P<perihilar>perihilar|parahilar)\b"
    r"|\b(?P<bilateral>bilateral|bilaterally|both (?:lungs?|sides|hemithora\w*|apices|bases|upper|mid|lower))\b"
    r"|\b(?P<side>right|left)\b"
)
_SEVERITY_WORDS = re.compile(
    r"\b(?P<mild>trace|tiny|minimal|minimally|small|mild|mildly|slight|slightly)\b"
    r"|\b(?P<moderate>moderate|moderately)\b"
    r"|\b(?P<severe>large|severe|severely|extensive|massive|marked|markedly|substantial|sizable|huge)\b"
)
_SIZE = re.compile(r"\b(\d+(?:\.\d+)?)(?:\s*x\s*(\d+(?:\.\d+)?))*\s*(mm|cm)\b")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
# Segment separators inside a clause; "and" / "or" are coordinators (their neighbours may share locations).
_SEGMENT_BREAK = re.compile(r"[,;:]|\b(?P<coordinator>and|or|as well as)\b")
_WORD_END = re.compile(r"\w*")
_IGNORED_LABELS = frozenset({"No Finding"})


@dataclass
class _Words:
    """Attribute words found in one stretch of text (locations with their offsets, for 'after the mention')."""

    locations: list[tuple[int, str]] = field(default_factory=list)
    grades: list[int] = field(default_factory=list)
    sizes_mm: list[float] = field(default_factory=list)

    def add(self, other: _Words) -> None:
        self.locations += other.locations
        self.grades += other.grades
        self.sizes_mm += other.sizes_mm

    def empty(self) -> bool:
        return not (self.locations or self.grades or self.sizes_mm)


@dataclass
class _Mention:
    label: str
    start: int
    end: int
    value: float


@dataclass
class _Segment:
    start: int
    end: int
    clause: int
    after_coordinator: bool
    words: _Words
    mentions: list[_Mention] = field(default_factory=list)


def _location_words(text: str, offset: int) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    bare_lobes: list[tuple[int, str]] = []
    for match in _LOCATION_WORDS.finditer(text):
        kind, position = match.lastgroup, offset + match.start()
        if match.group("lobe"):
            side, zone = match.group("lobe_side"), match.group("lobe_zone")
            lobe = "lingula" if (side, zone) == ("left", "middle") else f"{side} {zone} lobe"
            found += [(position, side), (position, lobe)]
        elif match.group("bare_lobe"):
            bare_lobes.append((position, match.group("bare_zone")))
        elif match.group("abbreviation"):
            lobe = _LOBE_ABBREVIATION[match.group("abbreviation")]
            found += [(position, lobe.split()[0]), (position, lobe)]
        elif kind == "lingula":
            found += [(position, "left"), (position, "lingula")]
        elif match.group("zone") or match.group("lung_zone"):
            found.append((position, f"{_ZONE_WORD[match.group('zone') or match.group('lung_zone')]} zone"))
        elif kind in ("both_apical", "both_basal"):
            found += [(position, "bilateral"), (position, kind.removeprefix("both_"))]
        elif kind == "side":
            found.append((position, match.group("side")))
        else:
            found.append((position, kind))  # type: ignore[arg-type]  # apical, basal, ..., bilateral
    sides = {term for _, term in found if term in ("right", "left")}
    for position, zone in bare_lobes:
        if zone == "middle":
            found += [(position, "right"), (position, "right middle lobe")]
        elif len(sides) == 1:
            found.append((position, f"{next(iter(sides))} {zone} lobe"))
    return found


def _words(text: str, offset: int) -> _Words:
    words = _Words(locations=_location_words(text, offset))
    for match in _SEVERITY_WORDS.finditer(text):
        words.grades.append(SEVERITY_GRADES.index(match.lastgroup))
    for match in _SIZE.finditer(text):
        factor = 10.0 if match.group(3) == "cm" else 1.0
        words.sizes_mm.append(max(float(n) for n in _NUMBER.findall(match.group(0))) * factor)
    return words


def _overlaps(span: tuple[int, int], others: list[tuple[int, int]]) -> bool:
    return any(span[0] < end and start < span[1] for start, end in others)


def _mentions(sentences: list[str], lexicon: Lexicon) -> dict[int, list[_Mention]]:
    """sentence index -> its finding mentions (offsets within the sentence), valued by the labeler's rules."""
    # As the labeler does: phrases never span a newline, so one scan of the joined text serves every sentence.
    text = "\n".join(sentences)
    starts = list(accumulate((len(s) + 1 for s in sentences[:-1]), initial=0))
    masked: dict[int, str] = {}
    by_sentence: dict[int, list[_Mention]] = {}

    def add(label: str, span: tuple[int, int], anatomy: bool, always_uncertain: bool = False) -> bool:
        index = bisect_right(starts, span[0]) - 1
        if index not in masked:
            masked[index] = mask_pseudo_negations(sentences[index])
        start, end = span[0] - starts[index], span[1] - starts[index]
        if anatomy:
            value = classify_anatomy(masked[index], start, end, lexicon.options)
            if value is None:
                return False
        else:
            end = _WORD_END.match(sentences[index], end).end()  # type: ignore[union-attr]  # always matches
            value = classify_finding(masked[index], start, end, lexicon.options)
            if always_uncertain and value == POSITIVE:
                value = UNCERTAIN
        by_sentence.setdefault(index, []).append(_Mention(label, start, end, value))
        return True

    for label in lexicon.patterns:
        if label.name in _IGNORED_LABELS or not label.may_occur_in(text):
            continue
        excluded = [m.span() for m in label.exclude.finditer(text)] if label.exclude else []
        spans: list[tuple[int, int]] = []
        for pattern, always_uncertain in ((label.findings, False), (label.uncertain, True)):
            for match in pattern.finditer(text) if pattern is not None else ():
                if not _overlaps(match.span(), excluded):
                    spans.append(match.span())
                    add(label.name, match.span(), False, always_uncertain)
        for match in label.anatomy.finditer(text) if label.anatomy is not None else ():
            if not (_overlaps(match.span(), excluded) or _overlaps(match.span(), spans)):
                add(label.name, match.span(), True)
    return by_sentence


def _segments(sentence: str, masked: str) -> list[_Segment]:
    """Split at the labeler's clause breaks (new clause) and at commas / coordinators (same clause)."""
    cuts: list[tuple[int, int, bool, bool]] = []  # (start, end, new clause, is coordinator)
    starts, ends = clause_breaks(masked)
    cuts += [(s, e, True, False) for s, e in zip(starts, ends, strict=True)]
    cuts += [
        (m.start(), m.end(), False, m.group("coordinator") is not None)
        for m in _SEGMENT_BREAK.finditer(masked)
    ]
    cuts.sort()
    segments: list[_Segment] = []
    position, clause, after_coordinator = 0, 0, False
    for start, end, new_clause, coordinator in cuts:
        if start < position:  # a separator inside a clause break (";" is both)
            clause += new_clause
            continue
        segments.append(
            _Segment(position, start, clause, after_coordinator, _words(sentence[position:start], position))
        )
        position, clause, after_coordinator = end, clause + new_clause, coordinator
    segments.append(
        _Segment(position, len(sentence), clause, after_coordinator, _words(sentence[position:], position))
    )
    return segments


def _attach_mentionless(segments: list[_Segment]) -> None:
    """Give the words of segments without a mention to the mention segment they qualify."""
    bearing = [i for i, s in enumerate(segments) if s.mentions]
    if not bearing:
        return
    for i, segment in enumerate(segments):
        if segment.mentions or segment.words.empty():
            continue
        same_clause = [j for j in bearing if segments[j].clause == segment.clause]
        before = [j for j in same_clause if j < i]
        after = [j for j in same_clause if j > i]
        if before:
            target = before[-1]
        elif after:
            target = after[0]
        elif i < bearing[0]:
            target = bearing[0]
        else:
            continue
        segments[target].words.add(segment.words)


def _share_coordinated_locations(segments: list[_Segment]) -> dict[int, list[tuple[int, str]]]:
    """'atelectasis and consolidation in the left lower lobe': the bare first mention shares the locations."""
    shared: dict[int, list[tuple[int, str]]] = {}
    for i in range(len(segments) - 2, -1, -1):
        segment, following = segments[i], segments[i + 1]
        if not (segment.mentions and following.mentions and following.after_coordinator):
            continue
        if segment.words.locations or following.clause != segment.clause:
            continue
        mention_end = max(m.end for m in following.mentions)
        trailing = [(p, t) for p, t in following.words.locations if p >= mention_end]
        shared[i] = trailing or shared.get(i + 1, [])
    return shared


def _merge(
    found: dict[str, dict[str, Any]], label: str, words: _Words, locations: list[tuple[int, str]]
) -> None:
    entry = found.setdefault(label, {"terms": set(), "grade": None, "size_mm": None})
    entry["terms"].update(term for _, term in locations)
    if words.grades:
        entry["grade"] = max(words.grades + ([] if entry["grade"] is None else [entry["grade"]]))
    if words.sizes_mm:
        entry["size_mm"] = max(words.sizes_mm + ([] if entry["size_mm"] is None else [entry["size_mm"]]))


def _canonical(terms: set[str]) -> list[str]:
    if "bilateral" in terms or {"right", "left"} <= terms:
        terms = (terms - {"right", "left"}) | {"bilateral"}
    return sorted(terms, key=_LOCATION_ORDER.__getitem__)


def finding_attributes(report: str, labelset: str = "chexpert") -> dict[str, dict[str, Any]]:
    """{finding: {"location": [...], "severity": "mild" | "moderate" | "severe" | None, "size_mm": float | None}}.

    Findings are the label set's (default the 14 CheXpert observations, as MIMIC-CXR labels them), in the
    lexicon's order; see the module docstring for the vocabulary and the scope rules.
    """
    lexicon = load_lexicon(labelset)
    found: dict[str, dict[str, Any]] = {}
    sentences = prepare(report)
    if not sentences:
        return {}
    for index, mentions in sorted(_mentions(sentences, lexicon).items()):
        sentence = sentences[index]
        segments = _segments(sentence, mask_pseudo_negations(sentence))
        for mention in mentions:
            for segment in segments:
                if segment.start <= mention.start < max(segment.end, segment.start + 1):
                    segment.mentions.append(mention)
                    break
        _attach_mentionless(segments)
        shared = _share_coordinated_locations(segments)
        for i, segment in enumerate(segments):
            for mention in segment.mentions:
                if mention.value == NEGATIVE:
                    continue
                _merge(found, mention.label, segment.words, segment.words.locations + shared.get(i, []))
    order = {name: i for i, name in enumerate(p.name for p in lexicon.patterns)}
    return {
        label: {
            "location": _canonical(entry["terms"]),
            "severity": None if entry["grade"] is None else SEVERITY_GRADES[entry["grade"]],
            "size_mm": entry["size_mm"],
        }
        for label, entry in sorted(found.items(), key=lambda item: order[item[0]])
    }
