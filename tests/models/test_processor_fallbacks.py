"""Two `hf:DIR` paths the type checker found broken: a checkpoint that does not name its processor class, and a
processor whose crop size has no height / width.

- hf_families.load_processor falls back to `PROCESSOR_MAPPING` by config type when no json file names a
  `processor_class`; transformers' `_LazyAutoMapping.get(key, default)` has no default for `default`
  (transformers/models/auto/auto_factory.py), so a one-argument `get` raised TypeError there.
- hf_geometry: a letterboxing (LLaVA) processor resizing by shortest edge, with a crop size that gives neither
  height nor width, compared None >= int (TypeError); the frame is now reported as undefined.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.models.hf_geometry import processor_frame

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
import tiny_vlms  # noqa: E402  (tests/models is on sys.path: pytest rootdir-relative import)


def test_processor_is_found_by_config_type_when_no_file_names_it(tmp_path: Path) -> None:
    from transformers import AutoConfig, LlavaProcessor

    from bench.models.hf_families import load_processor

    root = tiny_vlms.build_llava(tmp_path / "llava")
    stripped = 0
    for path in root.glob("*.json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and "processor_class" in data:
            del data["processor_class"]
            path.write_text(json.dumps(data), encoding="utf-8")
            stripped += 1
    assert stripped, "the tiny checkpoint should name its processor class somewhere"
    config = AutoConfig.from_pretrained(root, local_files_only=True)

    processor = load_processor(root, config, trust_remote_code=False)

    assert type(processor) is LlavaProcessor  # transformers' own mapping: LlavaConfig -> LlavaProcessor


class LlavaImageProcessor:
    """Stand-in with the attributes hf_geometry reads (family "Llava": pad_to_square before resize and crop)."""

    do_pad = True
    do_resize = True
    size = {"shortest_edge": 16}
    do_center_crop = True

    def __init__(self, crop_size: dict[str, int]):
        self.crop_size = crop_size


def test_crop_without_height_and_width_leaves_the_frame_undefined() -> None:
    frame = processor_frame(LlavaImageProcessor({"shortest_edge": 16}))

    assert frame.resize is None
    assert "LlavaImageProcessor crops" in frame.source


def test_square_crop_covering_the_padded_square_is_still_the_pad_frame() -> None:
    frame = processor_frame(LlavaImageProcessor({"height": 16, "width": 16}))

    assert frame.resize == "pad"
