"""The small helpers added when the dataset code was made type-clean behave as the code they replaced."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench.datasets.demo.common import fact_search
from bench.datasets.io import clip_bbox, clip_box
from bench.datasets.object_cxr import ObjectCXR


def test_fact_search_returns_the_first_match_as_re_search_does() -> None:
    text = "e.g. 02aa804e-bde0afdd-112c0b34 and 11111111-22222222"
    found = fact_search(r"([0-9a-f]{8})-", text)
    expected = re.search(r"([0-9a-f]{8})-", text)
    assert expected is not None
    assert (found.group(0), found.group(1), found.start()) == (expected.group(0), expected.group(1), 5)


def test_fact_search_names_the_pattern_when_the_fact_no_longer_matches() -> None:
    with pytest.raises(KeyError, match=r"normals are numbered"):
        fact_search(r"normals are numbered <= (\d+)", "no such sentence")


@pytest.mark.parametrize("box", [[-3.0, 5.0, 105.5, 40.0], [90.0, 60.0, 10.0, -1.0], [0.0, 0.0, 100.0, 50.0]])
def test_clip_bbox_is_clip_box_of_the_four_numbers(box: list[float]) -> None:
    assert clip_bbox(box, 100, 50) == clip_box(box[0], box[1], box[2], box[3], 100, 50)
    assert clip_bbox(box, 100, 50)[0] >= 0.0 and clip_bbox(box, 100, 50)[2] <= 100.0


def test_object_cxr_empty_csv_without_columns_yields_nothing(tmp_path: Path) -> None:
    """A header-less, row-less csv has no records (and is not an error), as before the early return."""
    (tmp_path / "dev.csv").write_text("")
    assert list(ObjectCXR().records(tmp_path, "dev")) == []
