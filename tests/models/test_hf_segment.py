"""`hf-seg:DIR` on a tiny SegFormer built here from a config (seeded random weights, classifier scaled so that
several classes win somewhere), saved with its PIL image processor.

The reference is computed here without the adapter or the processor: the input by PIL bilinear resize + ImageNet
normalisation, the model run directly, the logits upsampled with torch.nn.functional.interpolate (bilinear,
align_corners=False) to the ORIGINAL (H, W) of a non-square image, argmax (or sigmoid > 0.5), then pycocotools RLE.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as coco_mask

from bench.models import Sample, TaskSpec, load_model
from bench.records import ImageInfo, Record

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

NAMES = ["__background__", "Heart", "left_lung", "right lung", "R clavicle"]
MEAN, STD = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
INPUT_HW = (32, 48)
SPEC = TaskSpec(tasks=("segmentation",), structures=["right lung", "left lung", "heart", "left clavicle"])


def save_segformer(path: Path, names: list[str], seed: int = 0, multi_label: bool = False) -> Path:
    from transformers import SegformerConfig, SegformerForSemanticSegmentation
    from transformers.models.segformer.image_processing_pil_segformer import SegformerImageProcessorPil

    torch.manual_seed(seed)
    config = SegformerConfig(
        num_channels=3, num_encoder_blocks=2, depths=[1, 1], sr_ratios=[2, 1], hidden_sizes=[8, 16],
        patch_sizes=[7, 3], strides=[4, 2], num_attention_heads=[1, 2], mlp_ratios=[2, 2], decoder_hidden_size=16,
        id2label=dict(enumerate(names)),
        problem_type="multi_label_classification" if multi_label else None,
    )  # fmt: skip
    model = SegformerForSemanticSegmentation(config).eval()
    with torch.no_grad():
        model.decode_head.classifier.weight.normal_(0, 1.0)
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    SegformerImageProcessorPil(size={"height": INPUT_HW[0], "width": INPUT_HW[1]}).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def seg_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_segformer(tmp_path_factory.mktemp("segformer") / "ckpt", NAMES)


def sample(image: np.ndarray, i: int) -> Sample:
    h, w = image.shape
    return Sample(Record(id=f"img{i}", image=ImageInfo(width=w, height=h)), image)


def images(seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    shapes = [(50, 70), (41, 33), (50, 70), (41, 33), (50, 70)]
    return [rng.random(shape, dtype=np.float32) for shape in shapes]


def reference_scores(model_dir: Path, image: np.ndarray) -> np.ndarray:
    """Upsampled logits (C, H, W) at the original size."""
    from PIL import Image
    from transformers import SegformerForSemanticSegmentation

    model = SegformerForSemanticSegmentation.from_pretrained(model_dir, local_files_only=True).eval()
    grey = np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)
    rgb = Image.fromarray(grey, mode="L").convert("RGB").resize(INPUT_HW[::-1], Image.BILINEAR)
    pixels = ((np.asarray(rgb, dtype=np.float64) / 255.0 - MEAN) / STD).transpose(2, 0, 1)[None]
    with torch.no_grad():
        logits = model(pixel_values=torch.tensor(pixels, dtype=torch.float32)).logits
        up = torch.nn.functional.interpolate(logits, size=image.shape, mode="bilinear", align_corners=False)
    return up[0].numpy()


def rle_counts(mask: np.ndarray) -> str:
    return coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))["counts"].decode("ascii")


def load(path: Path, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the unmapped "R clavicle" warning, tested below
        return load_model(f"hf-seg:{path}", **options)


def test_masks_equal_manual_argmax_of_upsampled_logits(seg_dir: Path) -> None:
    model = load(seg_dir)
    batch = [sample(im, i) for i, im in enumerate(images()[:2])]  # 50x70 and 41x33
    records = model.predict(batch, SPEC)
    expected_keys = {1: "heart", 2: "left lung", 3: "right lung", 4: "R clavicle"}  # 0 is the background
    for record, s in zip(records, batch, strict=True):
        winner = reference_scores(seg_dir, s.image).argmax(0)
        assert len(np.unique(winner)) >= 3  # several classes win somewhere: the comparison means something
        assert set(record.masks) == set(expected_keys.values())
        for index, name in expected_keys.items():
            mask = record.masks[name]
            assert tuple(mask.size) == s.image.shape
            assert mask.counts == rle_counts(winner == index), name
    described = model.describe()
    assert described["activation"] == "argmax"
    assert described["upsampling"]["by"] == "processor.post_process_semantic_segmentation"
    assert described["background_classes"] == ["__background__"]
    assert described["benchmark_structures_without_class"] == ["left clavicle"]
    assert described["counts"] == {"images": 2, "masks": 8, "empty_masks": described["counts"]["empty_masks"]}
    assert described["processor"]["size"] == {"height": 32, "width": 48}
    json.dumps(described)


def test_sigmoid_heads_when_the_config_says_multi_label(tmp_path: Path) -> None:
    ckpt = save_segformer(tmp_path / "multi", ["Heart", "left lung", "right lung"], seed=3, multi_label=True)
    model = load(ckpt)
    image = images()[0]
    record = model.predict([sample(image, 0)], SPEC)[0]
    scores = reference_scores(ckpt, image)
    masks = {name: scores[i] > 0 for i, name in enumerate(["heart", "left lung", "right lung"])}
    assert sum(m.astype(int) for m in masks.values()).max() >= 2  # overlapping masks: not an argmax
    for name, mask in masks.items():
        assert record.masks[name].counts == rle_counts(mask)
    assert model.describe()["activation"] == "sigmoid"


def test_batch_of_one_equals_batch_of_four(seg_dir: Path) -> None:
    batch = [sample(im, i) for i, im in enumerate(images())]
    one = load(seg_dir, batch_size=1).predict(batch, SPEC)
    four = load(seg_dir, batch_size=4).predict(batch, SPEC)
    assert [r.id for r in one] == [r.id for r in four] == [s.record.id for s in batch]
    assert [r.masks for r in one] == [r.masks for r in four]


def test_label_names_background_and_label_map(seg_dir: Path, tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match="R clavicle"):
        model = load_model(f"hf-seg:{seg_dir}")
    described = model.describe()
    assert described["unmapped_labels"] == ["R clavicle"]
    assert described["id2label"]["0"] == {
        "model_name": "__background__",
        "name": None,
        "source": "background",
    }
    assert described["id2label"]["2"] == {
        "model_name": "left_lung",
        "name": "left lung",
        "source": "vocabulary",
    }

    # the label map wins; two classes mapped to one structure give the union of their pixels
    label_map = tmp_path / "labels.yaml"
    label_map.write_text("R clavicle: heart\n", encoding="utf-8")
    mapped = load(seg_dir, label_map=str(label_map))
    image = images()[0]
    record = mapped.predict([sample(image, 0)], SPEC)[0]
    winner = reference_scores(seg_dir, image).argmax(0)
    assert set(record.masks) == {"heart", "left lung", "right lung"}
    assert record.masks["heart"].counts == rle_counts((winner == 1) | (winner == 4))
    assert mapped.describe()["unmapped_labels"] == []

    label_map.write_text("left_lung: Left Lung Field\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not a cxrbench vocabulary name or structure"):
        load(seg_dir, label_map=str(label_map))


def test_refusals(tmp_path: Path, seg_dir: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no Hugging Face checkpoint there"):
        load_model(f"hf-seg:{tmp_path / 'nowhere'}")
    # a processor that centre-crops: its logits cover only part of the image
    from transformers.models.mobilevit.image_processing_pil_mobilevit import MobileViTImageProcessorPil

    cropped = tmp_path / "cropped"
    cropped.mkdir()
    for name in ("config.json", "model.safetensors"):
        (cropped / name).write_bytes((seg_dir / name).read_bytes())
    MobileViTImageProcessorPil(do_center_crop=True).save_pretrained(cropped)
    with pytest.raises(ValueError, match="do_center_crop=true"):
        load(cropped)
    # a detection checkpoint is not a segmentation model
    from transformers import DetrConfig, ResNetConfig

    detr = tmp_path / "detr"
    DetrConfig(backbone_config=ResNetConfig(out_features=["stage1"]), d_model=16).save_pretrained(detr)
    (detr / "preprocessor_config.json").write_text((seg_dir / "preprocessor_config.json").read_text())
    with pytest.raises(ValueError, match="AutoModelForSemanticSegmentation cannot load this config"):
        load(detr)
    # pixels whose size disagrees with the record
    model = load(seg_dir)
    wrong = Sample(Record(id="x", image=ImageInfo(width=10, height=20)), np.zeros((20, 11), dtype=np.float32))
    with pytest.raises(ValueError, match="'x' has 11x20 pixels but its record says 10x20"):
        model.predict([wrong], SPEC)


@pytest.mark.slow
def test_run_on_demo_jsrt(tmp_path: Path) -> None:
    from bench.datasets.demo import write_demo
    from bench.records import read_records
    from bench.run.runner import run
    from bench.run.score import ScoreSettings, build_results

    root = write_demo(tmp_path / "demo", names=("jsrt",), n=8, seed=0, workers=1)["jsrt"]
    # the five SCR structures of the JSRT demo records, plus a background class
    names = ["background", "right lung", "left lung", "heart", "right clavicle", "left clavicle"]
    ckpt = save_segformer(tmp_path / "ckpt", names, seed=1)
    settings = ScoreSettings(n_boot=20, seed=0)
    outcome = run(
        f"hf-seg:{ckpt}", "jsrt", root, split="fold2", out_dir=tmp_path / "run", batch_size=3, workers=0,
        settings=settings, progress=False,
    )  # fmt: skip
    assert outcome.tasks == ["segmentation"]
    run_dir = tmp_path / "run"
    results = json.loads((run_dir / "results" / "segmentation.json").read_text(encoding="utf-8"))
    preds = read_records(run_dir / "predictions.jsonl", "pred")
    gt = read_records(run_dir / "gt.jsonl", "gt")
    assert [r.id for _, r in preds] == [r.id for _, r in gt] and len(gt) >= 2
    for (_, p), (_, g) in zip(preds, gt, strict=True):
        assert set(p.masks) == set(g.masks) == set(names[1:])
        assert all(tuple(m.size) == (g.image.height, g.image.width) for m in p.masks.values())
    direct = build_results("segmentation", run_dir / "gt.jsonl", run_dir / "predictions.jsonl", settings)
    assert results == json.loads(json.dumps(direct))
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["model"]["counts"]["images"] == len(gt)
    assert manifest["model"]["benchmark_structures_without_class"] == []
