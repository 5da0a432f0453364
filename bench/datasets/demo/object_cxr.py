"""Demo object-CXR from its fact sheet: train.csv / dev.csv with rectangles, ellipses and polygons, JPEGs.

From the facts: the split names (`split_counts`: the validation split is 'dev'), image folders (`image_folders`),
the file-name pattern (`image_format`: five digits), the CSV header (`csv_columns`) and the annotation grammar
(`annotation_grammar`: type codes, separators, integer coordinates, an empty field for images without objects).
Half the images carry objects, some more than one.
"""

from __future__ import annotations

from pathlib import Path

from bench.datasets.demo.anatomy import Finding, synth_case
from bench.datasets.demo.common import IMAGE_SIZE, choose_split, pool, rng_for
from bench.datasets.demo.writers import save_jpeg, write_csv
from bench.datasets.factsheet import fact

NAME = "object-cxr"
# anatomy's Finding.shape codes -> the grammar's shape names
SHAPE_NAMES = {0: "rectangle", 1: "ellipse", 2: "polygon"}


def _annotation(finding: Finding, grammar: dict) -> str:
    code = next(k for k, v in grammar["types"].items() if v == SHAPE_NAMES[finding.shape])
    if SHAPE_NAMES[finding.shape] == "polygon":
        values = [v for point in finding.polygon for v in point]
    else:  # rectangle, ellipse: the corners of the (bounding) rectangle
        values = list(finding.bbox)
    separator = grammar["field_separator"][0]  # ' (single space)'
    return separator.join([str(code), *(f"{v:.0f}" for v in values)])  # integers in the files


def write(out: Path, n: int = 200, seed: int = 0) -> None:
    rng = rng_for(NAME, seed)
    columns = fact(NAME, "csv_columns")
    splits = [
        s for s in fact(NAME, "split_counts") if f"{s}.csv" in columns
    ]  # the labelled splits: train, dev
    folders = fact(NAME, "image_folders")
    pattern = fact(NAME, "image_format")["file_name_pattern"].split()[0]  # '#####.jpg'
    width = pattern.count("#")
    suffix = pattern.lstrip("#")
    grammar = fact(NAME, "annotation_grammar")
    kinds, _ = pool(fact(NAME, "label_names"))
    rows: dict[str, list[list[object]]] = {s: [] for s in splits}
    for index in range(n):
        split = choose_split(rng, index, {splits[0]: 0.7, splits[1]: 0.3})
        name = f"{index + 1:0{width}d}{suffix}"
        # the same kind twice in the pool: an image can hold two objects
        case = synth_case(rng, IMAGE_SIZE, kinds * 2, p_normal=0.5, max_findings=2)
        save_jpeg(out / folders[split] / name, case.image)
        objects = grammar["object_separator"].join(_annotation(f, grammar) for f in case.findings)
        rows[split].append([name, objects])  # no objects: nothing after the comma (fact)
    for split, split_rows in rows.items():
        file_name = f"{split}.csv"
        write_csv(out / file_name, columns[file_name], split_rows)
