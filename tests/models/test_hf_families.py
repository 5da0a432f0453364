"""`hf:DIR` on one tiny config-built checkpoint per vision-language family (tests/models/tiny_vlms.py).

Each family: loads offline without torchvision, answers every question, gives the same records at batch size 3
(images of different sizes, so prompts are padded) as one by one, and puts exactly the BOS its format has in the
prompt ids. The box frame recorded for each family is checked against where the processor really puts a marker
drawn into a non-square image (an independent look at `pixel_values`), and against the wrong frames.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.models import Sample, TaskSpec, load_model
from bench.models.hf_families import chat_prompt
from bench.models.hf_geometry import processor_frame
from bench.models.imt_parse import MAX_BIN, Geometry
from bench.records import Record

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
import tiny_vlms  # noqa: E402  (tests/models is on sys.path: pytest rootdir-relative import)

SPEC = TaskSpec(
    tasks=("classification", "localization", "segmentation", "report"),
    labels=["Nodule"],
    box_labels=["Nodule"],
    structures=["heart"],
)
QUESTIONS = 4  # one per task above
SIZES = [(40, 60), (50, 30), (36, 64)]  # (H, W): non-square, different sizes so a batch needs padding
# BOS tokens each family's prompt carries: its template or processor writes one, the tokenizer must not add another
BOS_IN_PROMPT = {
    "qwen2_vl": 0,  # no BOS in the Qwen format
    "qwen2_5_vl": 0,
    "gemma3": 1,  # "{{ bos_token }}" opens the template; the Gemma tokenizer would add a second
    "idefics3": 1,  # "<|begin_of_text|>" opens the template
    "smolvlm": 1,  # "<|im_start|>" (the BOS) opens the template
    "llava_next": 1,  # the template has none: the tokenizer adds it
    "llava_onevision": 0,
    "paligemma": 1,  # PaliGemmaProcessor inserts it after the image tokens
    "llava": 1,
}
FRAMES = {  # the frame each family's processor makes (hf_geometry.py), None: undefined (any-res)
    "qwen2_vl": "stretch",
    "qwen2_5_vl": "stretch",
    "gemma3": "stretch",
    "idefics3": "stretch",
    "smolvlm": "stretch",
    "llava_next": None,
    "llava_onevision": None,
    "paligemma": "stretch",
    "llava": "pad",
}


class Checkpoints(dict):
    """Family -> its tiny checkpoint folder, built on first use (once per module)."""

    def __init__(self, factory: pytest.TempPathFactory):
        super().__init__()
        self.factory = factory

    def __missing__(self, family: str) -> Path:
        self[family] = tiny_vlms.BUILDERS[family](self.factory.mktemp(family))
        return self[family]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> Checkpoints:
    return Checkpoints(tmp_path_factory)


def _families(names: list[str]) -> list[Any]:
    """SmolVLMProcessor refuses to load without num2words (the hf extra): its cases skip where it is missing."""
    from transformers.utils import is_num2words_available

    missing = pytest.mark.skipif(
        not is_num2words_available(), reason="num2words (cxrbench[hf]) not installed"
    )
    return [pytest.param(name, marks=missing) if name == "smolvlm" else name for name in names]


def _samples() -> list[Sample]:
    rng = np.random.default_rng(0)
    return [
        Sample(Record(id=f"img{i}", image={"width": w, "height": h}), rng.random((h, w)).astype(np.float32))
        for i, (h, w) in enumerate(SIZES)
    ]


def _load(root: Path, **options: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_model(f"hf:{root}", max_new_tokens=4, **options)


@pytest.mark.parametrize("family", _families(list(tiny_vlms.BUILDERS)))
def test_family_answers_batched_as_one_by_one_with_one_bos(family: str, checkpoints: dict[str, Path]) -> None:
    options = {} if FRAMES[family] else {"resize": "stretch"}
    model = _load(checkpoints[family], batch_size=3, **options)
    prompts: list[list[int]] = []
    generate = model.model.generate

    def spy(**inputs: Any) -> Any:
        prompts.extend(inputs["input_ids"].tolist())
        return generate(**inputs)

    model.model.generate = spy
    samples = _samples()
    records = model.predict(samples, SPEC)
    assert [r.id for r in records] == ["img0", "img1", "img2"]
    model.batch_size = 1
    assert (
        model.predict(samples, SPEC) == records
    )  # left padding and per-prompt image lists keep images aligned
    info = model.describe()
    assert info["answers_parsed"] == 2 * len(samples) * QUESTIONS
    assert all(isinstance(r.report, str) for r in records)
    tokenizer = model.tokenizer
    assert len(prompts) == 2 * len(samples) * QUESTIONS
    for ids in prompts:
        real = [i for i in ids if i != tokenizer.pad_token_id]
        bos = tokenizer.bos_token_id
        assert (real.count(bos) if bos is not None else 0) == BOS_IN_PROMPT[family], tokenizer.decode(real)
        if BOS_IN_PROMPT[family] and family != "paligemma":
            assert real[0] == bos and real[1] != bos
    assert info["coordinates"]["resize"] == (FRAMES[family] or "stretch")
    assert info["image_processor_class"].endswith("Pil")  # never the torchvision backend


def test_paligemma_prompt_is_its_prefix_format(checkpoints: dict[str, Path]) -> None:
    """PaliGemma is prompted "<image>*N <bos> prefix \\n" (big_vision's format, built by PaliGemmaProcessor):
    the adapter passes the bare instruction after the image token, no "\\n" of its own."""
    processor = _load(checkpoints["paligemma"]).processor
    prompt = chat_prompt(processor, "Describe the image.", None)
    assert prompt == "<image>Describe the image."
    _, (text,), *_ = processor.prepare_inputs_layout(images=[np.zeros((8, 8, 3), np.uint8)], text=[prompt])
    assert text == "<image><bos>Describe the image.\n"


# ----------------------------------------------------------------------------- box frame vs the real processor

MARK_H, MARK_W = 48, 80  # a landscape image; marker centred at (64, 38): near a corner, so frames disagree
MARK_BOX = (60, 34, 68, 42)  # x0, y0, x1, y1
MARK_CENTRE = (64.0, 38.0)


def _marker_image(marked: bool = True) -> np.ndarray:
    image = np.full((MARK_H, MARK_W), 0.2, dtype=np.float32)
    x0, y0, x1, y1 = MARK_BOX
    image[y0:y1, x0:x1] = 1.0 if marked else 0.2
    return image


def _marker_views(model: Any, view_of: Any) -> np.ndarray:
    """The processor's view(s) of the marked image minus those of the same image without the marker."""
    views = [
        view_of(model.prepare_inputs([_marker_image(marked)], "Where is Nodule ?"), model.processor)
        for marked in (True, False)
    ]
    return views[0] - views[1]


def _centroid(view: np.ndarray) -> tuple[float, float]:
    """Intensity-weighted centre of the marker in a (h, w) difference view, normalised to [0, 1] of the view."""
    weight = np.clip(view, 0.0, None)
    rows, cols = np.indices(view.shape)
    cx = float((weight * (cols + 0.5)).sum() / weight.sum())
    cy = float((weight * (rows + 0.5)).sum() / weight.sum())
    return cx / view.shape[1], cy / view.shape[0]


def _qwen_view(inputs: Any, processor: Any) -> np.ndarray:
    """Undo Qwen2VLImageProcessor.patchify: (grid_h * grid_w, C * T * p * p) -> channel 0 of the resized image."""
    image_processor = processor.image_processor
    p, m, t = image_processor.patch_size, image_processor.merge_size, image_processor.temporal_patch_size
    _, grid_h, grid_w = inputs["image_grid_thw"][0].tolist()
    patches = inputs["pixel_values"].float().numpy().reshape(grid_h // m, grid_w // m, m, m, 3, t, p, p)
    image = patches[:, :, :, :, 0, 0].transpose(0, 2, 4, 1, 3, 5)  # (gh/m, m, p, gw/m, m, p)
    return image.reshape(grid_h * p, grid_w * p)


VIEWS = {  # family -> the view of the whole image in pixel_values
    "qwen2_vl": _qwen_view,
    "qwen2_5_vl": _qwen_view,
    "gemma3": lambda inputs, _: inputs["pixel_values"][0, 0].float().numpy(),
    "paligemma": lambda inputs, _: inputs["pixel_values"][0, 0].float().numpy(),
    "llava": lambda inputs, _: inputs["pixel_values"][0, 0].float().numpy(),
    "idefics3": lambda inputs, _: inputs["pixel_values"][0, -1, 0].float().numpy(),  # the global view
    "smolvlm": lambda inputs, _: inputs["pixel_values"][0, -1, 0].float().numpy(),
}


def _map_back(centre: tuple[float, float], resize: str) -> tuple[float, float]:
    geometry = Geometry(MARK_W, MARK_H, resize)
    return geometry.to_pixels(round(centre[0] * MAX_BIN), round(centre[1] * MAX_BIN))


@pytest.mark.parametrize("family", _families(list(VIEWS)))
def test_frame_inverts_where_the_processor_puts_a_marker(family: str, checkpoints: dict[str, Path]) -> None:
    model = _load(checkpoints[family])
    frame = model.describe()["coordinates"]["resize"]
    assert frame == FRAMES[family] and model.describe()["coordinates"]["resize_source"].startswith(
        "processor ("
    )
    view = _marker_views(model, VIEWS[family])
    centre = _centroid(view)
    tolerance = 0.5 * max(MARK_W / view.shape[1], MARK_H / view.shape[0])  # half a pixel of the view
    x, y = _map_back(centre, frame)
    assert abs(x - MARK_CENTRE[0]) <= tolerance and abs(y - MARK_CENTRE[1]) <= tolerance, (x, y, tolerance)
    for wrong in {"stretch", "pad", "center_crop"} - {frame}:  # the check can fail: other frames miss
        wx, wy = _map_back(centre, wrong)
        assert max(abs(wx - MARK_CENTRE[0]), abs(wy - MARK_CENTRE[1])) > 2 * tolerance, wrong


@pytest.mark.parametrize("family", ["llava_next", "llava_onevision"])
def test_any_res_frame_is_undefined_unless_resize_is_given(family: str, checkpoints: dict[str, Path]) -> None:
    from transformers.image_processing_utils import select_best_resolution

    model = _load(checkpoints[family])
    info = model.describe()
    assert info["coordinates"]["resize"] is None and info["resize"] is None
    assert "any-res grid" in info["coordinates"]["resize_source"]
    with pytest.raises(
        ValueError, match=r"not defined by the processor; pass --option resize=\(stretch\|pad"
    ):
        model.predict(_samples()[:1], SPEC)
    # classification and report need no frame
    (record,) = model.predict(_samples()[:1], TaskSpec(tasks=("report",)))
    assert isinstance(record.report, str)
    # why: in pixel_values the overview is stretched while the grid is letterboxed - the two views disagree
    views = _marker_views(model, lambda inputs, _: inputs["pixel_values"][0, :, 0].float().numpy())
    overview = _centroid(views[0])
    tile = views.shape[-1]
    best_h, best_w = select_best_resolution(
        (MARK_H, MARK_W), model.processor.image_processor.image_grid_pinpoints
    )
    rows, cols = best_h // tile, best_w // tile
    grid = (
        views[1 : 1 + rows * cols]
        .reshape(rows, cols, tile, tile)
        .transpose(0, 2, 1, 3)
        .reshape(best_h, best_w)
    )
    in_grid = _centroid(grid)
    x, y = _map_back(overview, "stretch")
    assert abs(x - MARK_CENTRE[0]) <= 0.5 * MARK_W / tile and abs(y - MARK_CENTRE[1]) <= 0.5 * MARK_H / tile
    gx, gy = _map_back(in_grid, "stretch")
    assert max(abs(gx - MARK_CENTRE[0]), abs(gy - MARK_CENTRE[1])) > MARK_H / tile  # letterboxed: off
    ok = _load(checkpoints[family], resize="stretch")
    assert ok.describe()["coordinates"] == {
        **info["coordinates"],
        "resize": "stretch",
        "resize_source": "argument",
    }


def test_generic_processor_frames_follow_resize_and_crop() -> None:
    from transformers.models.clip import CLIPImageProcessorPil
    from transformers.models.siglip import SiglipImageProcessorPil

    clip = CLIPImageProcessorPil(size={"shortest_edge": 16}, crop_size={"height": 16, "width": 16})
    assert processor_frame(clip).resize == "center_crop"
    # a crop smaller than the short side keeps a window no resize mode describes (BiomedCLIP-style 256 -> 224)
    partial = CLIPImageProcessorPil(size={"shortest_edge": 256}, crop_size={"height": 224, "width": 224})
    assert processor_frame(partial).resize is None and "224 x 224" in processor_frame(partial).source
    assert processor_frame(SiglipImageProcessorPil(size={"height": 16, "width": 16})).resize == "stretch"


# ----------------------------------------------------------------------------- loading rules


def test_published_processor_config_with_a_video_processor_loads_without_torchvision(
    checkpoints: dict[str, Path], tmp_path: Path
) -> None:
    root = tmp_path / "qwen2-vl-with-video"
    shutil.copytree(checkpoints["qwen2_vl"], root)
    config = json.loads((root / "processor_config.json").read_text())
    video = {k: v for k, v in config["image_processor"].items() if k != "image_processor_type"}
    config["video_processor"] = {**video, "video_processor_type": "Qwen2VLVideoProcessor"}
    (root / "processor_config.json").write_text(json.dumps(config))
    model = _load(root)
    assert not hasattr(model.processor, "video_processor")
    (record,) = model.predict(_samples()[:1], TaskSpec(tasks=("report",)))
    assert isinstance(record.report, str)


def test_missing_processor_package_names_the_extra(
    checkpoints: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from transformers.models.smolvlm import processing_smolvlm

    pytest.importorskip("num2words")  # to build the checkpoint; its absence is then simulated
    monkeypatch.setattr(processing_smolvlm, "num2words", None)
    with pytest.raises(ValueError, match=r"num2words.*pip install 'cxrbench\[hf\]'"):
        _load(checkpoints["smolvlm"])


def test_dtype_option(checkpoints: dict[str, Path]) -> None:
    model = _load(checkpoints["gemma3"], dtype="bfloat16")
    assert model.describe()["dtype"] == "torch.bfloat16"
    (record,) = model.predict(_samples()[:1], TaskSpec(tasks=("report",)))
    assert isinstance(record.report, str)
    with pytest.raises(ValueError, match="dtype 'double' is not one of auto, float32, float16, bfloat16"):
        _load(checkpoints["gemma3"], dtype="double")


REMOTE_CODE = '''"""A checkpoint's own code: LLaVA under another name."""
from transformers import LlavaConfig, LlavaForConditionalGeneration


class TinyRemoteConfig(LlavaConfig):
    model_type = "tiny_remote_llava"


class TinyRemoteModel(LlavaForConditionalGeneration):
    config_class = TinyRemoteConfig
'''


def test_shipped_code_runs_only_when_trusted(
    checkpoints: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import transformers.dynamic_module_utils as dynamic

    monkeypatch.setattr(dynamic, "HF_MODULES_CACHE", str(tmp_path / "modules"))  # not the user's cache
    root = tmp_path / "remote"
    shutil.copytree(checkpoints["llava"], root)
    (root / "tiny_remote.py").write_text(REMOTE_CODE)
    config = json.loads((root / "config.json").read_text())
    config["model_type"] = "tiny_remote_llava"
    config["auto_map"] = {
        "AutoConfig": "tiny_remote.TinyRemoteConfig",
        "AutoModelForImageTextToText": "tiny_remote.TinyRemoteModel",
    }
    (root / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"ships its own Python code.*pass --option trust_remote_code=true"):
        load_model(f"hf:{root}")
    with pytest.warns(UserWarning, match=r"running the checkpoint's own code \(tiny_remote.py\)"):
        model = load_model(f"hf:{root}", trust_remote_code=True, max_new_tokens=3)
    assert type(model.model).__name__ == "TinyRemoteModel"
    (record,) = model.predict(_samples()[:1], TaskSpec(tasks=("report",)))
    assert isinstance(record.report, str)
    remote = model.describe()["remote_code"]
    code = (root / "tiny_remote.py").read_bytes()
    assert remote["files"] == {"tiny_remote.py": hashlib.sha256(code).hexdigest()}
    assert remote["auto_map"]["config.json"]["AutoModelForImageTextToText"] == "tiny_remote.TinyRemoteModel"
    assert _load(checkpoints["llava"]).describe()["remote_code"] is None
