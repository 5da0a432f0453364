"""Negation and uncertainty rules over one sentence, in the spirit of NegBio / the CheXpert labeler.

The dependency-graph patterns of those tools are translated into clause-scoped token rules:
a cue affects a mention only inside the same clause (clauses end at "but", "however", "which",
";", "with", "there is", ...). Order of checks follows the CheXpert labeler's ModifiedDetector:
pre-negation uncertainty ("cannot be excluded"), then negation, then uncertainty.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from functools import lru_cache

POSITIVE, NEGATIVE, UNCERTAIN = 1.0, 0.0, -1.0

_CLAUSE_BREAK = re.compile(
    r"[;:()]|\b(?:but|however|although|though|whereas|while|which|except|aside from|apart from|otherwise|"
    r"nevertheless|yet|(?<!compatible )(?<!consistent )(?<!keeping )(?<!associated )with|given|"
    r"there (?:is|are|was|were|has|have)|in addition|additionally|also|now|then|again|previously)\b"
)
# Word sequences that contain a negation word without negating what follows.
_PSEUDO_NEGATION = re.compile(
    r"\b(?:no|without)(?: \w+)?(?: interval| significant)? (?:change|changes|increase|increased|progression|"
    r"worsening|difference|improvement)\b|\bnot (?:only|necessarily)\b|\bgram[- ]negative\b"
)
_NEGATION_BEFORE = re.compile(
    r"\b(?:no|not|without|negative for|free of|clear of|clearing of|absence of|absent|resolution of|resolved|"
    r"removal of|removed|rather than|ruled out|never|nor|neither|lack of|instead of|exclude[sd]?|excluding|"
    r"disappearance of|interval resolution|denies|denied|history of)\b"
)
# A verb between a negation cue and the mention ends the cue's reach ("no x is seen, y is present").
_FINITE_VERB = re.compile(
    r"\b(?:is|are|was|were|has|have|had|shows?|showing|demonstrates?|reveals?|remains?|persists?|"
    r"seen|noted)\b"
)
_FIRST_WORD = re.compile(r"^\s*(?:\w+ly\s+)?\w+")
# ... unless the mention is what the negated thing would "suggest" ("no opacity to suggest pneumonia").
_NEGATED_INFERENCE = re.compile(
    r"\b(?:no|without)\b.*\b(?:to suggest|to indicate|to explain|suggesting|suggestive of|to represent|"
    r"compatible with|consistent with|characteristic of|diagnostic of|for)\b[^,]*$"
)
_NEGATION_AFTER = re.compile(
    r"^[^,]{0,50}?\b(?:(?:is|are|was|were|has been|have been|be)\s+)?(?:not|no longer)\s+"
    r"(?:\w+ly\s+)?(?:be\s+)?(?:seen|identified|present|visuali[sz]ed|demonstrated|appreciated|noted|"
    r"evident|detected|visible|apparent|observed|shown|found|definitely seen|enlarged)\b"
    r"|^[^,]{0,40}?\b(?:(?:has|have|had)\s+(?:now\s+)?)?"
    r"(?:resolved|cleared|disappeared|been removed|removed)\b"
    r"|^\s*(?:(?:is|are)\s+)?(?:absent|negative)\b"
)
_NEGATION_AFTER_HINT = re.compile(r"not|no longer|resolved|cleared|disappeared|removed|absent|negative")
_PRENEG_UNCERTAIN_BEFORE = re.compile(
    r"\b(?:cannot|can not|can't|could not|couldn't|not|difficult to|unable to|impossible to|hard to)\s+"
    r"(?:be\s+)?(?:\w+ly\s+)?(?:exclude|excluded|rule out|ruled out)\b"
)
_PRENEG_UNCERTAIN_AFTER = re.compile(
    r"^[^.]{0,50}?\b(?:cannot|can not|can't|could not|couldn't|not|difficult to)\s+(?:be\s+)?(?:\w+ly\s+)?"
    r"(?:excluded|ruled out|exclude|rule out)\b"
)
_NO_NEW_BEFORE = re.compile(r"\bno (?:\w+ )?new\b")
_UNCERTAIN_BEFORE = re.compile(
    r"\b(?:most (?:suggestive|consistent|compatible|likely)|may|might|could|possible|possibly|probable|"
    r"probably|likely|questionable|questionably|question|questioned|suspect|suspected|suspicious|"
    r"suspicion|concern|concerning|worrisome|suggest|suggests|"
    r"suggested|suggesting|suggestive|consider|considered|consideration|differential|versus|vs|presumed|"
    r"presumably|presumptive|perhaps|maybe|equivocal|indeterminate|uncertain|unclear|rule out|"
    r"evaluate for|evaluation for|assess for|favor|favored|favoring|cannot exclude|correlate|correlation|"
    r"or less likely)\b"
)
# Hedges that state a finding is more likely than not.
_LIKELY_HEDGES = frozenset(
    {
        "probable",
        "probably",
        "likely",
        "most suggestive",
        "most consistent",
        "most compatible",
        "most likely",
        "favor",
        "favored",
        "favoring",
    }
)
_BORDERLINE = re.compile(r"\bborderline\b")
_UNCERTAIN_AFTER = re.compile(
    r"^\s*(?:\?|or less likely\b|if any\b|if present\b)"
    r"|^\s+(?:suspected|questioned|not excluded|possible|questionable|favored)\b"
    r"|^(?:\s*[\w'-]+){0,5}?\s+(?:is|are|was|were|remains?|seems?|appears?)\s+(?:\w+ly\s+|also\s+|still\s+)?"
    r"(?:possible|suspected|questioned|questionable|likely|not excluded|a consideration|considered|"
    r"in question|favored|less likely|uncertain|unclear|equivocal)\b"
)
_VERSUS_AFTER = re.compile(r"^\s*(?:versus|vs)\b")
_UNCERTAIN_AFTER_HINT = re.compile(
    r"\?|if any|if present|less likely|suspect|question|excluded|possible|favored|likely|consider|"
    r"uncertain|unclear|equivocal"
)
_OR_ADJACENT_BEFORE = re.compile(r"\bor\s+(?:[\w-]+\s+){0,2}$")
_OR_ADJACENT_AFTER = re.compile(r"^\s*(?:[\w-]+\s+){0,1}or\b")

# Size words for anatomy mentions ("heart size is normal" / "the heart is enlarged").
_NORMAL_SIZE = re.compile(
    r"\b(?:upper limits? of normal|top[- ]normal|top of normal|high[- ]normal|within normal limits|normal|"
    r"unremarkable|wnl|negative)\b"
)
_ENLARGED_SIZE = re.compile(
    r"\b(?:enlarge\w*|large|larger|increase|increased|increasing|prominent|prominence|widen\w*|widening|big|"
    r"cardiomegaly|dilat\w*|borderline)\b"
)
_STABLE = re.compile(r"\b(?:stable|unchanged|similar|no change|not changed|no significant change)\b")
_NEGATED_QUALIFIER = re.compile(r"\b(?:not|no|without)\s+(?:\w+ly\s+)?(?:\w+\s+)?$")
_NOT_ASSESSABLE = re.compile(
    r"\b(?:cannot|can not|can't|could not|difficult to|not|poorly|incompletely)\s+(?:be\s+)?(?:well\s+)?"
    r"(?:assess|assessed|evaluate|evaluated|visuali[sz]ed)|\bobscur"
)


@dataclass(frozen=True)
class RuleOptions:
    """Label-set conventions that differ between the CheXpert labeler and NegBio-style labelling."""

    no_new_is_uncertain: bool = False  # CheXpert: "no new effusion" -> uncertain
    stable_anatomy_is_uncertain: bool = False  # CheXpert: "stable cardiac silhouette" -> uncertain
    or_is_uncertain: bool = False  # CheXpert: "atelectasis or consolidation" -> uncertain
    heart_failure_adds_uncertain_cardiomegaly: bool = False  # CheXpert: "chf" -> Cardiomegaly -1
    # CheXpert: "borderline heart size" -> uncertain; NegBio / Open-i gold: a mild degree, i.e. positive.
    borderline_is_uncertain: bool = False
    # "probable effusion", "most suggestive of edema": positive when no weaker hedge is in the clause.
    likely_is_positive: bool = False
    # "X versus Y": CheXpert makes both uncertain; NegBio's conj:versus rule only touches Y.
    versus_keeps_first: bool = False


def mask_pseudo_negations(sentence: str) -> str:
    """Blank out phrases like "no change in" so their "no" is not read as a negation cue."""
    if "no" not in sentence and "without" not in sentence and "negative" not in sentence:
        return sentence
    return _PSEUDO_NEGATION.sub(lambda m: "~" * len(m.group(0)), sentence)


@lru_cache(maxsize=16384)
def clause_breaks(sentence: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(starts, ends) of the clause-breaking words of a sentence; cached, report sentences repeat a lot."""
    spans = [m.span() for m in _CLAUSE_BREAK.finditer(sentence)]
    return tuple(s for s, _ in spans), tuple(e for _, e in spans)


def clause_bounds(sentence: str, start: int, end: int) -> tuple[int, int]:
    """(left, right) offsets of the clause around sentence[start:end]."""
    starts, ends = clause_breaks(sentence)
    # last break that ends before the mention starts / first break that starts after it ends
    i = bisect_right(ends, start) - 1
    left = ends[i] if i >= 0 else 0
    j = bisect_left(starts, end)
    right = starts[j] if j < len(starts) else len(sentence)
    return left, right


def _last_match(pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    last = None
    for last in pattern.finditer(text):  # noqa: B007 - only the last match is wanted
        pass
    return last


def _negated_before(before: str) -> bool:
    cue = _last_match(_NEGATION_BEFORE, before)
    if cue is None:
        return False
    gap = before[cue.end() :]
    if cue.group(0) == "not":  # "does not demonstrate X": the verb right after "not" is the negated one
        gap = _FIRST_WORD.sub("", gap, count=1)
    return not _FINITE_VERB.search(gap) or bool(_NEGATED_INFERENCE.search(before))


def _hedged(text: str, options: RuleOptions) -> bool:
    """An uncertainty cue in text (likely-type hedges only count when the option says so)."""
    hedges = {m.group(0) for m in _UNCERTAIN_BEFORE.finditer(text)}
    return bool(hedges) and not (options.likely_is_positive and hedges <= _LIKELY_HEDGES)


def classify_finding(sentence: str, start: int, end: int, options: RuleOptions) -> float:
    """Value of a finding mention at sentence[start:end] (sentence already pseudo-negation masked)."""
    left, right = clause_bounds(sentence, start, end)
    before, after = sentence[left:start], sentence[end:right]
    tail = sentence[end:]
    # Substring pre-checks skip the backtracking look-ahead patterns on most mentions.
    maybe_excluded = "xclu" in sentence or "rule" in sentence
    if maybe_excluded and (_PRENEG_UNCERTAIN_BEFORE.search(before) or _PRENEG_UNCERTAIN_AFTER.match(tail)):
        return UNCERTAIN
    if options.no_new_is_uncertain and _NO_NEW_BEFORE.search(before):
        return UNCERTAIN
    if _negated_before(before) or (_NEGATION_AFTER_HINT.search(after) and _NEGATION_AFTER.match(after)):
        return NEGATIVE
    if _hedged(before, options):
        return UNCERTAIN
    if _UNCERTAIN_AFTER_HINT.search(tail) and _UNCERTAIN_AFTER.match(tail):
        return UNCERTAIN
    if not options.versus_keeps_first and _VERSUS_AFTER.match(after):
        return UNCERTAIN
    if options.borderline_is_uncertain and _BORDERLINE.search(before):
        return UNCERTAIN
    if options.or_is_uncertain and (_OR_ADJACENT_BEFORE.search(before) or _OR_ADJACENT_AFTER.match(after)):
        return UNCERTAIN
    return POSITIVE


def classify_anatomy(sentence: str, start: int, end: int, options: RuleOptions) -> float | None:
    """Value of a structure mention ("heart size"): None when no size statement is attached to it."""
    left, right = clause_bounds(sentence, start, end)
    before, after = sentence[left:start], sentence[end:right]
    if _NOT_ASSESSABLE.search(after):
        return UNCERTAIN if options.stable_anatomy_is_uncertain else None
    normal = _NORMAL_SIZE.search(after)
    enlarged = _ENLARGED_SIZE.search(after)
    qualifier: re.Match[str] | None
    if enlarged and "," in after[: enlarged.start()]:  # "stable heart size, enlarged aorta"
        enlarged = None
    if normal and enlarged:
        qualifier, is_enlarged = (normal, False) if normal.start() < enlarged.start() else (enlarged, True)
        qualifier_text = after
    elif normal or enlarged:
        qualifier, is_enlarged, qualifier_text = (normal or enlarged), enlarged is not None, after
    else:
        near_before = before[-40:]
        qualifier_text = near_before
        qualifier = _last_match(_ENLARGED_SIZE, near_before)
        is_enlarged = qualifier is not None
        if qualifier is None:
            qualifier = _last_match(_NORMAL_SIZE, near_before)
    if qualifier is None:
        stable = _STABLE.search(after) or _STABLE.search(before[-30:])
        if options.stable_anatomy_is_uncertain and stable:
            return UNCERTAIN
        return None
    if _NEGATED_QUALIFIER.search(qualifier_text[: qualifier.start()]):
        is_enlarged = not is_enlarged
    if not is_enlarged:
        return NEGATIVE
    if (
        (
            options.borderline_is_uncertain
            and (qualifier.group(0) == "borderline" or _BORDERLINE.search(before))
        )
        or _hedged(before, options)
        or _hedged(qualifier_text[: qualifier.start()], options)
    ):
        return UNCERTAIN
    return POSITIVE
