"""`meteor_nltk`: NLTK's METEOR (``nltk.translate.meteor_score``), the implementation Hugging Face evaluate's
"meteor" metric calls. A different metric from `meteor` (METEOR 1.5, the Java jar): the numbers differ and the
two are never substituted for each other.

What evaluate's metrics/meteor/meteor.py does (nltk >= 3.6.5), and what this module repeats:
- each text is tokenised with ``nltk.word_tokenize`` (Punkt sentence split, then ``NLTKWordTokenizer`` per
  sentence); ``meteor_score`` lower-cases tokens (its default ``preprocess=str.lower``), Porter-stems them and
  matches WordNet synonyms;
- per case ``meteor_score([ref tokens ...], hyp tokens, alpha=0.9, beta=3, gamma=0.5)``, the best score over the
  references; the corpus value is the mean of the case scores.

One deliberate difference: ``word_tokenize`` needs Punkt's pretrained English parameters (the ``punkt_tab``
download). Nothing is downloaded here, so the sentence split is NLTK's ``PunktSentenceTokenizer()`` without
trained parameters: it splits after every period followed by a space, so an abbreviation such as "approx." ends a
sentence and becomes "approx" "." where the English model would keep "approx.". The conventions say so.

WordNet 3.0 is read from a local directory with NLTK's own ``WordNetCorpusReader``: ``$WNSEARCHDIR`` (WordNet's
variable for its database folder, see lexnames(5WN)) or Debian's ``wordnet-base`` folder /usr/share/wordnet. Debian
ships the database files (index.*, data.*, *.exc) but not ``lexnames``, which the reader opens at start; its 45
lines are the table of lexnames(5WN) (WordNet 3.0) and are supplied here when the folder lacks the file.
``index.sense`` (absent too) is only read to map other WordNet versions for multilingual data, which METEOR does
not use, so that mapping is skipped.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

ALPHA = 0.9
BETA = 3.0
GAMMA = 0.5
DEBIAN_WORDNET_DIR = Path("/usr/share/wordnet")
WORDNET_FILES = (
    "index.noun",
    "index.verb",
    "index.adj",
    "index.adv",
    "data.noun",
    "data.verb",
    "data.adj",
    "data.adv",
    "noun.exc",
    "verb.exc",
    "adj.exc",
    "adv.exc",
)
# lexnames(5WN), WordNet 3.0: file number, lexicographer file name; the category is the name's prefix.
LEXNAMES = [
    "adj.all",
    "adj.pert",
    "adv.all",
    "noun.Tops",
    "noun.act",
    "noun.animal",
    "noun.artifact",
    "noun.attribute",
    "noun.body",
    "noun.cognition",
    "noun.communication",
    "noun.event",
    "noun.feeling",
    "noun.food",
    "noun.group",
    "noun.location",
    "noun.motive",
    "noun.object",
    "noun.person",
    "noun.phenomenon",
    "noun.plant",
    "noun.possession",
    "noun.process",
    "noun.quantity",
    "noun.relation",
    "noun.shape",
    "noun.state",
    "noun.substance",
    "noun.time",
    "verb.body",
    "verb.change",
    "verb.cognition",
    "verb.communication",
    "verb.competition",
    "verb.consumption",
    "verb.contact",
    "verb.creation",
    "verb.emotion",
    "verb.motion",
    "verb.perception",
    "verb.possession",
    "verb.social",
    "verb.stative",
    "verb.weather",
    "adj.ppl",
]
_CATEGORY = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}
UNAVAILABLE_HINT = (
    "install Debian's wordnet-base (apt-get install wordnet-base, or `make system-deps`) or set WNSEARCHDIR to "
    "a WordNet 3.0 dict folder"
)


def lexnames_text() -> str:
    return "".join(f"{i:02d}\t{name}\t{_CATEGORY[name.split('.')[0]]}\n" for i, name in enumerate(LEXNAMES))


def wordnet_dir() -> Path:
    """The WordNet folder to read: $WNSEARCHDIR when set, else Debian's /usr/share/wordnet."""
    configured = os.environ.get("WNSEARCHDIR")
    return Path(configured) if configured else DEBIAN_WORDNET_DIR


def wordnet_missing(folder: Path | None = None) -> str | None:
    """One sentence saying why WordNet cannot be read from `folder` (None when it can)."""
    folder = folder or wordnet_dir()
    missing = [name for name in WORDNET_FILES if not (folder / name).is_file()]
    if not missing:
        return None
    what = "does not exist" if not folder.is_dir() else f"lacks {', '.join(missing)}"
    return f"meteor_nltk needs WordNet 3.0, but {folder} {what}: {UNAVAILABLE_HINT}"


@lru_cache(maxsize=2)
def wordnet_reader(folder: str) -> Any:
    """NLTK's WordNetCorpusReader over a local WordNet dict folder (cached: reading the indexes takes seconds)."""
    import nltk.data
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    root = Path(folder).resolve()
    has_lexnames = (root / "lexnames").is_file()

    class LocalWordNet(WordNetCorpusReader):
        def open(self, fileid: str) -> Any:
            if fileid == "lexnames" and not has_lexnames:
                return io.StringIO(lexnames_text())
            return super().open(fileid)

        def map_wn(self, version: str = "wordnet") -> None:
            return None  # only for OMW data; it would look for NLTK's downloaded WordNet and index.sense

    # NLTK (3.9.3+) opens corpus files only under nltk.data.path (nltk.pathsec.validate_path).
    if str(root) not in nltk.data.path:
        nltk.data.path.append(str(root))
    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore"
        )  # "multilingual functions are not available": no OMW reader, as intended
        reader = LocalWordNet(str(root), None)
    reader.cxrbench_lexnames = "folder" if has_lexnames else "lexnames(5WN) table supplied by cxrbench"
    return reader


def tokenize(text: str) -> list[str]:
    """nltk.word_tokenize's pipeline with an untrained Punkt sentence splitter (see the module docstring)."""
    from nltk.tokenize.destructive import NLTKWordTokenizer
    from nltk.tokenize.punkt import PunktSentenceTokenizer

    words = NLTKWordTokenizer()
    return [
        token for sentence in PunktSentenceTokenizer().tokenize(text) for token in words.tokenize(sentence)
    ]


@dataclass(frozen=True)
class MeteorNltkResult:
    value: float | None
    per_case: np.ndarray | None
    reason: str | None
    conventions: dict[str, Any] | None


def meteor_nltk(
    refs: Sequence[str] | Sequence[Sequence[str]],
    hyps: Sequence[str],
    *,
    folder: Path | None = None,
) -> MeteorNltkResult:
    """Mean NLTK METEOR over cases and the per-case scores; without WordNet, `reason` says what to install."""
    from nltk.translate.meteor_score import meteor_score

    from bench.metrics.report import normalise_refs

    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} generated reports")
    folder = folder or wordnet_dir()
    if reason := wordnet_missing(folder):
        return MeteorNltkResult(None, None, reason, None)
    reader = wordnet_reader(str(folder))
    scores = np.array(
        [
            meteor_score(
                [tokenize(ref) for ref in case_refs],
                tokenize(hyp),
                wordnet=reader,
                alpha=ALPHA,
                beta=BETA,
                gamma=GAMMA,
            )
            for case_refs, hyp in zip(normalise_refs(refs), hyps, strict=True)
        ],
        dtype=np.float64,
    )
    value = float(scores.mean()) if scores.size else None
    return MeteorNltkResult(value, scores, None, conventions(reader, folder))


def conventions(reader: Any, folder: Path) -> dict[str, Any]:
    return {
        "implementation": "nltk.translate.meteor_score.meteor_score (as Hugging Face evaluate's 'meteor'); not "
        "METEOR 1.5",
        "nltk_version": metadata.version("nltk"),
        "parameters": {"alpha": ALPHA, "beta": BETA, "gamma": GAMMA},
        "matching": "exact, Porter stem, WordNet synonym (NLTK defaults; tokens lower-cased)",
        "tokenizer": "nltk.word_tokenize pipeline (Punkt sentence split, NLTKWordTokenizer) with an untrained "
        "Punkt splitter, as the pretrained English parameters (punkt_tab) are a download: abbreviations such as "
        "'approx.' end a sentence",
        "references": "best score over a case's references",
        "corpus": "mean of case scores; CI from the same case bootstrap as the other report metrics",
        "wordnet": {
            "version": reader.get_version(),
            "path": str(folder),
            "lexnames": reader.cxrbench_lexnames,
        },
    }


def meteor_nltk_bootstrap(per_case: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """(B,) replicate means for a (B, n) multiplicity matrix (bench.metrics.bootstrap.replicate_means)."""
    from bench.metrics.bootstrap import replicate_means

    return replicate_means(counts, per_case)
