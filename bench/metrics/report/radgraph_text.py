"""RadGraph's word tokenisation, as the `radgraph` package (0.1.18, `radgraph/utils.py`) prepares a report.

`preprocess_reports` splits the RadGraph v1 model's input ("radgraph") with a regular expression that puts
spaces around / , - : . ! ? ( ) (the same expression as CXR-Report-Metric's `radgraph_inference/inference.py`);
every other model type goes through `radgraph_xl_preprocess_report` (escaped-newline replacements, whitespace
squeezed, nltk's `wordpunct_tokenize`, then five ") ." style fixes). Its test ``model_type == "radgraph-xl" or
"modern-radgraph-xl"`` is always true, so "echograph" takes the XL path too, and so it does here. The reader
(`DyGIEReader._normalize_word`) turns the words "/." and "/?" into "." and "?" for the transformer only; entity
tokens keep the words as split.
"""

from __future__ import annotations

import re

_V1_SPLIT = re.compile("(?<! )(?=[/,-,:,.,!?()])|(?<=[/,-,:,.,!?()])(?! )")
_WORDPUNCT = re.compile(r"\w+|[^\w\s]+")  # nltk.tokenize.WordPunctTokenizer's pattern


def _xl_words(text: str) -> list[str]:
    text = text.replace("\\n", "  ").replace("\\f", "  ").replace("\\u2122", "      ")
    text = text.replace("\n", " ").replace('\\"', "``")
    tokenized = " ".join(_WORDPUNCT.findall(re.sub(r"\s+", " ", text)))
    for old, new in ((").", ") ."), ("%.", "% ."), (".'", ". '"), ("%,", "% ,"), ("%)", "% )")):
        tokenized = tokenized.replace(old, new)
    return tokenized.split()


def report_words(text: str, model_type: str) -> list[str]:
    """The words the RadGraph model of `model_type` (the vocabulary's dataset name) reads for one report."""
    if model_type == "radgraph":
        return _V1_SPLIT.sub(" ", text).split()
    return _xl_words(text)


def transformer_word(word: str) -> str:
    """The word as the transformer sees it (`DyGIEReader._normalize_word`)."""
    return word[1:] if word in ("/.", "/?") else word
