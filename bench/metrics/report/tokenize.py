"""Pure-Python emulation of pycocoevalcap's ``PTBTokenizer`` (Stanford CoreNLP 3.4.1, ``-lowerCase``).

pycocoevalcap runs ``edu.stanford.nlp.process.PTBTokenizer -preserveLines -lowerCase`` in Java and then drops
the tokens listed in ``PUNCTUATIONS``. This module reproduces that output without Java: a longest-match lexer
whose rules were written from the CoreNLP 3.4.1 lexer's behaviour (checked token by token against the real jar,
see ``tests/test_report_metrics.py``), followed by the same lower-casing and punctuation filter.

What it reproduces: words, numbers ("3.5", "1,000", "-5", "12:30"), number+unit splits ("3.5cm" -> "3.5 cm"
but "5cm" stays), hyphenated and slashed words ("x-ray", "r/o", "a/b/c"), fractions and dates ("2 1/2" becomes
one token with a non-breaking space, as CoreNLP does), clitics ("isn't" -> "is n't", "patient's" -> "patient 's",
"cannot" -> "can not"), abbreviations that keep their period ("dr.", "e.g.", "fig. 3", "vs.") versus those that
do not ("approx."), brackets as ``-lrb-``/``-rrb-``/... (lower-cased, so pycocoevalcap does *not* drop them),
quote normalisation, dash runs ("--", "-----"), ``!!``/``?!`` runs, ``&amp;``-style entities, ``½`` -> ``1/2``,
currency signs (``£`` -> ``#``, ``€`` -> ``$``), and deletion of invisible format characters.

Known remaining differences from the Java tokenizer (rare in radiology reports):
  * URLs, e-mail addresses, SGML tags and Twitter-style ``@name``/``#tag`` follow simplified rules;
  * unusual Unicode dashes (U+2011/U+2012/U+2015) and characters CoreNLP deletes as "untokenizable" other than
    format characters (category Cf) may differ;
  * a caption containing a line separator (U+2028, U+2029, U+0085, VT, FF, CR) is split into several lines by
    the Java tokenizer, which misaligns every later caption in pycocoevalcap; here such characters are spaces;
  * CoreNLP 3.4.1 occasionally leaves the very first token of its input file un-lower-cased (non-deterministic,
    observed on first runs); this module always lower-cases.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence

# pycocoevalcap/tokenizer/ptbtokenizer.py: PUNCTUATIONS (compared after lower-casing, so "-LRB-" never matches).
PUNCTUATIONS = frozenset(
    ["''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".", "?", "!", ",", ":", "-", "--", "...", ";"]
)

_LET = r"[^\W\d_]"
_ALNUM = r"[^\W_]"
_APOS = r"(?:['\u0092\u2019]|&apos;)"
_APOSETC = r"(?:['\u0092\u2019`\u0091\u2018\u201B]|&apos;)"
_HYPHEN = r"[-\u2010]"
_WORD = _LET + r"(?:" + _LET + r"|\d)*(?:[.!?]" + _LET + r"(?:" + _LET + r"|\d)*)*"
_SGML_NAME = r"[A-Za-z][A-Za-z0-9:._-]*"
_SGML = (
    r"</?"
    + _SGML_NAME
    + r"(?: +"
    + _SGML_NAME
    + r"(?: *= *(?:'[^']*'|\"[^\"]*\"|"
    + _SGML_NAME
    + r"))?)* */? *>"
)
_NUM = r"(?:\d*(?:[.:,\u00AD]\d+)+|\d+)"

_ABMONTH = "Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec"
_ABDAYS = "Mon|Tue|Tues|Wed|Thu|Thurs|Fri"
# Entries written with a bracketed first letter are case-sensitive in CoreNLP's otherwise caseless lexer.
_ABSTATE = (
    "Ala|Ariz|[A]z|[A]rk|Calif|Colo|Conn|Ct|Dak|[D]el|Fla|Ga|[I]ll|Ind|Kans?|Ky|[L]a|[M]ass|Md|Mich|Minn|"
    "[M]iss|Mo|Mont|Neb|Nev|Okla|[O]re|[P]a|Penn|Tenn|[T]ex|Va|Vt|[W]ash|Wisc?|Wyo"
)
_ABCOMP = "Inc|Cos?|Corp|Pp?tys?|Ltd|Plc|Bancorp|Dept|Bhd|Assn|Univ|Intl|Sys|Bldg"
_ABPTIT = r"Jr|Sr|Bros|(?:Ed|Ph)\.D|Blvd|Rd|Esq"
_ABTITLE = (
    "Mr|Mrs|Ms|[M]iss|Drs?|Profs?|Sens?|Reps?|Attys?|Lt|Rt|Col|Gen|Messrs|Govs?|Adm|Rev|Maj|Sgt|Cpl|Pvt|Mt|"
    "Capt|Ste?|Ave|Pres|Lieut|Hon|Brig|Co?mdr|Pfc|Spc|Supts?|Det"
)
_ABBREV_WORDS = (
    rf"{_ABMONTH}|{_ABDAYS}|{_ABSTATE}|{_ABCOMP}|{_ABPTIT}|tel|est|ext|sq|etc|al|seq|"
    rf"{_ABTITLE}|vs|Alex|Wm|Jos|Cie|cf|TREAS|Invt|Elec|Natl|Mfg|Mtg|pty"
)


def _caseless(pattern: str) -> str:
    """Make every letter caseless except a bracketed single letter like ``[M]``, which CoreNLP keeps exact."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "[" and i + 2 < len(pattern) and pattern[i + 2] == "]" and pattern[i + 1].isalpha():
            out.append(pattern[i + 1])
            i += 3
            continue
        if ch == "\\" and i + 1 < len(pattern):
            out.append(pattern[i : i + 2])
            i += 2
            continue
        out.append(f"[{ch.lower()}{ch.upper()}]" if ch.isalpha() else ch)
        i += 1
    return "".join(out)


_BRACKETS = {"(": "-LRB-", ")": "-RRB-", "[": "-LSB-", "]": "-RSB-", "{": "-LCB-", "}": "-RCB-"}
_FRACTIONS = {"¼": "1/4", "½": "1/2", "¾": "3/4", "⅓": "1/3", "⅔": "2/3", "⅕": "1/5", "⅖": "2/5", "⅗": "3/5"}
_FRACTIONS |= {"⅘": "4/5", "⅙": "1/6", "⅚": "5/6", "⅛": "1/8", "⅜": "3/8", "⅝": "5/8", "⅞": "7/8"}
_CURRENCY = {"¢": "cents", "£": "#", "€": "$", "\u0080": "$"}
_ENTITIES = {"&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": "''", "&apos;": "'"}


def _same(text: str) -> str:
    return text


def _dashes(text: str) -> str:
    n = len(text)
    return "-" if n == 1 else "--" if n <= 4 else text


def _normalise_apostrophes(text: str) -> str:
    return re.sub(r"[\u0092\u2019`\u0091\u2018\u201B]|&apos;", "'", text)


Rule = tuple[re.Pattern[str], Callable[[str], str]]

# (regex, output transform). A regex may contain a named group "tok": only that prefix is consumed (JFlex
# trailing context); the whole match length still counts when choosing the longest match, as in JFlex.
_RULE_SOURCES: list[tuple[str, Callable[[str], str]]] = [
    (r"(?P<tok>[cC][aA][nN])(?:[nN][oO][tT])(?!" + _LET + ")", _same),
    (r"(?P<tok>(?i:gon|got|lem|gim|wan))(?i:na|ta|me)(?!" + _LET + ")", _same),
    (r"(?P<tok>'[tT])(?i:is|was)(?!" + _LET + ")", _same),
    (_SGML, lambda t: t.replace(" ", "\u00a0")),
    (r"&(?:MD|mdash|ndash);|[\u0096\u0097\u2013\u2014]", lambda t: "--"),
    (r"&(?:amp|lt|gt|quot|apos);", lambda t: _ENTITIES[t]),
    (r"&(?:HT|TL|UR|LR|QC|QL|QR|odq|cdq|#[0-9]+);", _same),
    (
        r"(?P<tok>" + _LET + r"(?:" + _LET + r"|\d)*)" + _APOSETC + r"(?i:s|m|d|re|ve|ll)(?!" + _LET + ")",
        _same,
    ),
    (_APOSETC + r"(?i:s|m|d|re|ve|ll)(?!" + _LET + ")", _normalise_apostrophes),
    (r"(?P<tok>[A-Za-z\u00AD]*[A-MO-Za-mo-z]\u00AD*)[nN]" + _APOSETC + r"[tT]", _same),
    (r"[nN]" + _APOSETC + r"[tT]", _normalise_apostrophes),
    (
        _APOS
        + r"n"
        + _APOS
        + r"|"
        + _APOS
        + r"n(?!"
        + _LET
        + r")|[lLdDjJ]"
        + _APOS
        + r"|(?i:dunkin|somethin|ol)"
        + _APOS
        + r"|"
        + _APOS
        + r"(?i:em|till?|cause)|"
        + _APOS
        + r"[2-9]0[sS]|[A-HJ-XZn]"
        + _APOSETC
        + _LET
        + r"{2,}|"
        + _LET
        + r"+[aeiouyAEIOUY]"
        + _APOSETC
        + r"[aeiouA-Z]"
        + _LET
        + r"*|(?i:nor'easter|c'mon|e'er|"
        r"s'mores|ev'ry|li'l|nat'l)|O" + _APOSETC + r"o",
        _same,
    ),
    (r"[yY]" + _APOS, _same),
    (r"(?P<tok>" + _APOS + r"\d\d)(?:\s|$)", _same),
    (r"https?://[^ \t\n\f\r\"<>|()]+[^ \t\n\f\r\"<>|.!?(){},-]", _same),
    (
        r"(?:www\.(?:[^ \t\n\f\r\"<>|.!?(){},]+\.)+[a-zA-Z]{2,4}|(?:[^ \t\n\f\r\"`'<>|.!?(){},\-_$]+\.)+"
        r"(?:com|net|org|edu))(?:/[^ \t\n\f\r\"<>|()]+[^ \t\n\f\r\"<>|.!?(){},-])?",
        _same,
    ),
    (
        r"[a-zA-Z0-9][^ \t\n\f\r\"<>|()\u00A0]*@(?:[^ \t\n\f\r\"<>|().\u00A0]+\.)*[^ \t\n\f\r\"<>|().\u00A0]+",
        _same,
    ),
    (r"@[a-zA-Z_][a-zA-Z_0-9]*", _same),
    (r"#" + _LET + r"+", _same),
    (r"\d{1,2}[-/]\d{1,2}[-/]\d{2,4}", _same),
    (r"[-+]?" + _NUM, _same),
    (r"(?:\d{1,4}[- \u00A0])?\d{1,4}\\?/\d{1,4}", lambda t: t.replace(" ", "\u00a0")),
    ("[" + "".join(_FRACTIONS) + "]", lambda t: _FRACTIONS[t]),
    (_WORD, _same),
    (
        r"(?:[dDoOlL]"
        + _APOSETC
        + _ALNUM
        + r")?"
        + _ALNUM
        + r"+(?:"
        + _HYPHEN
        + r"(?:[dDoOlL]"
        + _APOSETC
        + _ALNUM
        + r")?"
        + _ALNUM
        + r"+)*",
        _same,
    ),
    (r"[A-Z]+(?:(?:[+&]|&amp;)[A-Z]+)+", lambda t: t.replace("&amp;", "&")),
    (_ALNUM + r"+(?:-" + _LET + r"+){0,2}(?:\\?/" + _ALNUM + r"+(?:-" + _LET + r"+){0,2}){1,2}", _same),
    (r"[A-Za-z0-9][A-Za-z0-9.,\u00AD]*(?:[-_](?:[A-Za-z](?:\.[A-Za-z])+\.|[A-Za-z0-9\u00AD]+))+", _same),
    (r"(?P<tok>(?:" + _WORD + "|" + _ALNUM + r"+(?:[-_]" + _ALNUM + r"+)*)\.)[,;:]", _same),
    (r"[A-Za-z](?:\.[A-Za-z])+\.", _same),
    (r"[A-Za-z]\.", _same),
    (r"(?:" + _caseless(_ABBREV_WORDS) + r")\.", _same),
    (r"(?P<tok>(?:" + _caseless("ca|figs?|prop|nos?|art|pp|op") + r")\.)[ \t\u00A0]*\d", _same),
    (r"[A-Z]*\$|#+", _same),
    (
        r"[<>]?[:;=][-o*']?[()DPdpO\\{@|\[\]](?!" + _ALNUM + ")",
        lambda t: t.replace("(", "-LRB-").replace(")", "-RRB-"),
    ),
    ("[" + "".join(_CURRENCY) + "]", lambda t: _CURRENCY[t]),
    (r"\.\.\.+|\u2026|\u0085", lambda t: "..."),
    (r"``|''|[\"'`\u2018\u2019\u201A-\u201D\u201F\u0091-\u0094\u00AB\u00BB\u2039\u203A]", lambda t: "'"),
    (r"[()\[\]{}]", lambda t: _BRACKETS[t]),
    (r"-+", _dashes),
    (r"[?!]+", _same),
    (r"\*+", _same),
    (r"_+", _same),
]
_RULES: list[Rule] = [(re.compile(src), fn) for src, fn in _RULE_SOURCES]
_SPACE = re.compile(r"\s+")
# Fast path: an ASCII word followed by whitespace, or by a sentence period that CoreNLP splits off.
_PLAIN_WORD = re.compile(r"[A-Za-z]+(?=\s|$|[,;](?:\s|$))|(?P<dotted>[A-Za-z]{2,})(?=\.(?:\s|$))")
_PLAIN_PUNCT = re.compile(r"[.,;](?=\s|$)")
_PLAIN_SPECIAL = re.compile(r"(?i:cannot|gonna|gotta|lemme|gimme|wanna)")
_KEEPS_PERIOD = re.compile(
    r"(?:" + _caseless(_ABBREV_WORDS) + "|" + _caseless("ca|figs?|prop|nos?|art|pp|op") + r")\."
)


def _is_deleted(ch: str) -> bool:
    return unicodedata.category(ch) in ("Cf", "Cc", "Cn", "Co", "Cs")


def _lex_line(line: str) -> list[str]:
    tokens: list[str] = []
    pos, end = 0, len(line)
    while pos < end:
        space = _SPACE.match(line, pos)
        if space:
            pos = space.end()
            continue
        punct = _PLAIN_PUNCT.match(line, pos)
        if punct:
            tokens.append(punct.group())
            pos += 1
            continue
        plain = _PLAIN_WORD.match(line, pos)
        if plain and not _PLAIN_SPECIAL.fullmatch(plain.group()):
            word = plain.group()
            if plain.group("dotted") is None or not _KEEPS_PERIOD.fullmatch(word + "."):
                tokens.append(word)
                pos = plain.end()
                continue
        best_len, best_consumed, best_text = 0, 0, ""
        for regex, transform in _RULES:
            m = regex.match(line, pos)
            if m is None or m.end() - pos <= best_len:
                continue
            tok_end = m.end("tok") if "tok" in regex.groupindex else m.end()
            best_len, best_consumed = m.end() - pos, tok_end - pos
            best_text = transform(line[pos:tok_end])
        if best_len == 0:
            ch = line[pos]
            pos += 1
            if ch != "\u2010" and not _is_deleted(ch):
                tokens.append(ch)
            continue
        tokens.append(best_text)
        pos += best_consumed
    return tokens


def tokenize_one(text: str) -> list[str]:
    """Tokens of one caption, as pycocoevalcap's PTBTokenizer + punctuation filter would give them."""
    out = []
    for tok in _lex_line(text):
        low = tok.lower()
        if low not in PUNCTUATIONS:
            out.append(low)
    return out


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    """Tokenise each text independently (lower-cased PTB tokens, punctuation removed)."""
    return [tokenize_one(t) for t in texts]
