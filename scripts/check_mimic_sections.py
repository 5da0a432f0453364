"""Compare cxrbench's MIMIC-CXR sectioning with the MIMIC-CXR authors' own code, for auditors.

    python scripts/check_mimic_sections.py --official PATH/TO/mimic-cxr/txt/section_parser.py \
        [--reports ROOT/files] [--random 20000]

The official file (github.com/MIT-LCP/mimic-cxr, txt/section_parser.py) is not part of cxrbench: pass your own
copy. With --reports every sNNNNNNNN.txt under ROOT/files is compared (sections, normalised names and the official
impression choice of create_section_files.py); with --random, reports assembled at random from real header names
and blank-line patterns. Prints the number of mismatches and the first few; exit status 1 if any.
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import sys
from collections.abc import Iterator
from pathlib import Path

from bench.datasets.mimic_sections import FALLBACK_ORDER, report_text, split_sections

HEADERS = [
    "FINDINGS", "IMPRESSION", "CONCLUSION", "FINDINGS AND IMPRESSION", "FINDINGS/IMPRESSION", "RECOMMENDATION(S)",
    "INDICATION", "COMPARISON", "EXAMINATION", "HISTORY", "CHEST, PA AND LATERAL", "WET READ", "NOTIFICATION",
    "IMPRESSON", "PORTABLE CHEST", "ADDENDUM", "TECHNIQUE", "FINAL REPORT", "PFI", "CLINICAL HISTORY", "XYZ",
]  # fmt: skip
WORDS = ("the", "heart", "is", "normal", "lungs", "clear", "no", "effusion.", "pneumothorax", "left", "base")


def _body(rng: random.Random) -> str:
    lines = [" " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 8))) for _ in range(3)]
    return "\n".join(lines[: rng.randint(0, 3)])


def _random_reports(n: int) -> Iterator[tuple[str, str]]:
    for seed in range(n):
        rng = random.Random(seed)
        text = "                                 FINAL REPORT\n"
        for _ in range(rng.randint(0, 5)):
            separator = rng.choice([" ", "  ", "\n", "\n \n"])
            text += f" {rng.choice(HEADERS)}:{separator}{_body(rng)}\n" + rng.choice(["", " \n", "\n \n"])
            if rng.random() < 0.2:
                text += _body(rng) + "\n \n" + _body(rng) + "\n"
        yield f"random-{seed}", text


def _files(root: Path) -> Iterator[tuple[str, str]]:
    for path in sorted(root.rglob("s*.txt")):
        yield path.stem, path.read_text(encoding="utf-8", errors="replace")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--official", type=Path, required=True, help="the authors' section_parser.py")
    parser.add_argument("--reports", type=Path, help="MIMIC-CXR files/ folder with the sNNNNNNNN.txt reports")
    parser.add_argument(
        "--random", type=int, default=20000, help="number of random reports (without --reports)"
    )
    args = parser.parse_args()
    spec = importlib.util.spec_from_file_location("official_section_parser", args.official)
    if spec is None or spec.loader is None:
        print(f"error: cannot load {args.official}", file=sys.stderr)
        return 2
    official = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(official)
    custom_names, custom_ranges = official.custom_mimic_cxr_rules()
    reports = _files(args.reports) if args.reports else _random_reports(args.random)
    total = mismatches = 0
    for study, text in reports:
        total += 1
        if study in custom_ranges or study in custom_names:
            continue  # hand-made rules, applied by id on both sides
        texts, names, starts = official.section_text(text)
        ours = [(s.name, s.text, s.start) for s in split_sections(text)]
        # create_section_files.py: the last section of the first of these names present
        chosen = next((len(names) - 1 - names[::-1].index(n) for n in FALLBACK_ORDER if n in names), None)
        want_text = " ".join(texts[chosen].split()) if chosen is not None else ""
        got = report_text(text, study, "impression")[0] or ""
        if ours != list(zip(names, texts, starts, strict=True)) or got != want_text:
            mismatches += 1
            if mismatches <= 3:
                print(
                    f"mismatch in {study}:\n  ours: {ours}\n  official: {list(zip(names, texts, strict=True))}"
                )
    print(f"{total} reports, {mismatches} mismatches")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
