"""`hf-detect:DIR` on a tiny DETR (ResNet backbone from transformers, no timm) built here from a config, with seeded
random weights (query embeddings and heads scaled so that queries differ), saved with its PIL image processor.

The reference is computed here without the adapter or the processor: the input by PIL bilinear resize + ImageNet
normalisation, the model run directly, the class softmax (last logit = "no object" left out) and the box head's
normalised (cx, cy, w, h) turned into corners in ORIGINAL pixels by hand, on non-square images.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from bench.models import Sample, TaskSpec, load_model
from bench.records import ImageInfo, Record

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

NAMES = ["Effusion", "nodule", "glass shards", "Mass"]
EXPECTED_NAME = {0: "Pleural Effusion", 1: "Nodule", 2: "glass shards", 3: "Mass"}
MEAN, STD = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
SIZE = {"shortest_edge": 64, "longest_edge": 96}
# processed (h, w) under SIZE: 50x80 -> scale min(64/50, 96/80) = 1.2 -> 60x96; 60x40 -> 64/40 = 1.6 -> 96x64
INPUT_HW = {(50, 80): (60, 96), (60, 40): (96, 64)}
SPEC = TaskSpec(tasks=("localization",), box_labels=["Nodule", "Pleural Effusion", "Pneumothorax"])


def save_detr(path: Path, names: list[str], seed: int = 0, num_queries: int = 12) -> Path:
    from transformers import DetrConfig, DetrForObjectDetection, ResNetConfig
    from transformers.models.detr.image_processing_pil_detr import DetrImageProcessorPil

    torch.manual_seed(seed)
    backbone = ResNetConfig(
        num_channels=3, embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], layer_type="basic",
        out_features=["stage2"],
    )  # fmt: skip
    config = DetrConfig(
        backbone_config=backbone, use_pretrained_backbone=False, d_model=16, encoder_layers=1, decoder_layers=1,
        encoder_ffn_dim=32, decoder_ffn_dim=32, encoder_attention_heads=2, decoder_attention_heads=2,
        num_queries=num_queries, id2label=dict(enumerate(names)),
    )  # fmt: skip
    model = DetrForObjectDetection(config).eval()
    with torch.no_grad():  # peaky cross-attention so that each query sees something else
        model.model.query_position_embeddings.weight.normal_(0, 3.0)
        for name, param in model.model.decoder.named_parameters():
            if "proj" in name and name.endswith("weight"):
                param.normal_(0, 1.0)
        model.class_labels_classifier.weight.normal_(0, 1.0)
        for layer in model.bbox_predictor.layers:
            layer.weight.normal_(0, 0.5)
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    DetrImageProcessorPil(size=SIZE).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def detr_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_detr(tmp_path_factory.mktemp("detr") / "ckpt", NAMES)


def sample(image: np.ndarray, i: int) -> Sample:
    h, w = image.shape
    return Sample(Record(id=f"img{i}", image=ImageInfo(width=w, height=h)), image)


def images(seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    shapes = [(50, 80), (60, 40), (50, 80), (60, 40), (50, 80)]
    return [rng.random(shape, dtype=np.float32) for shape in shapes]


def raw_outputs(model_dir: Path, image: np.ndarray, model_class: str = "DetrForObjectDetection") -> tuple:
    """The model run directly on a hand-made input: (class logits (Q, C+1 or C), normalised cxcywh boxes (Q, 4))."""
    from PIL import Image

    model = getattr(transformers, model_class).from_pretrained(model_dir, local_files_only=True).eval()
    h, w = image.shape
    in_h, in_w = INPUT_HW[(h, w)]
    grey = np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)
    rgb = Image.fromarray(grey, mode="L").convert("RGB").resize((in_w, in_h), Image.BILINEAR)
    pixels = ((np.asarray(rgb, dtype=np.float64) / 255.0 - MEAN) / STD).transpose(2, 0, 1)[None]
    with torch.no_grad():
        out = model(
            pixel_values=torch.tensor(pixels, dtype=torch.float32),
            pixel_mask=torch.ones(1, in_h, in_w, dtype=torch.long),
        )
    return out.logits[0].double(), out.pred_boxes[0].double().numpy()


def to_pixels(boxes: np.ndarray, h: int, w: int) -> np.ndarray:
    """Normalised (cx, cy, w, h) -> [x0, y0, x1, y1] in original pixels, clipped to the image."""
    cx, cy, bw, bh = boxes.T
    corners = np.stack([(cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h], axis=1)
    return np.clip(corners, 0, [w, h, w, h])


def reference_boxes(model_dir: Path, image: np.ndarray) -> list[tuple[str, list[float], float]]:
    """DETR: one box per query, score = best class softmax with the last ("no object") logit left out."""
    logits, boxes = raw_outputs(model_dir, image)
    prob = logits.softmax(-1)[:, :-1].numpy()
    corners = to_pixels(boxes, *image.shape)
    scores, labels = prob.max(-1), prob.argmax(-1)
    order = np.argsort(-scores, kind="stable")
    return [(EXPECTED_NAME[int(labels[k])], corners[k].tolist(), float(scores[k])) for k in order]


def boxes_of(record: Record) -> list[tuple[str, list[float], float]]:
    return [(b.label, list(b.bbox), b.score) for b in record.boxes or []]


def assert_same_boxes(got: list, want: list, atol: float = 1e-3) -> None:
    assert [label for label, _, _ in got] == [label for label, _, _ in want]
    np.testing.assert_allclose([b for _, b, _ in got], [b for _, b, _ in want], atol=atol)
    np.testing.assert_allclose([s for _, _, s in got], [s for _, _, s in want], atol=1e-5)


def load(path: Path, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the unmapped "glass shards" warning, tested below
        return load_model(f"hf-detect:{path}", **options)


def test_boxes_equal_hand_mapping_on_non_square_images(detr_dir: Path) -> None:
    model = load(detr_dir)
    batch = [sample(im, i) for i, im in enumerate(images()[:2])]  # 50x80 and 60x40
    records = model.predict(batch, SPEC)
    assert [r.id for r in records] == ["img0", "img1"]
    for record, s in zip(records, batch, strict=True):
        want = reference_boxes(detr_dir, s.image)
        assert len(want) == 12  # threshold 0: every query's box is kept (AP needs the full ranking)
        assert_same_boxes(boxes_of(record), want)
        assert len({round(b[0], 3) for _, b, _ in want}) > 6  # the queries really differ
    described = model.describe()
    assert described["counts"]["images"] == 2 and described["counts"]["boxes"] == 24
    # some boxes run past the border in the raw output and come back clipped (Record validation would refuse them)
    assert 0 < described["counts"]["clipped_boxes"] <= 24
    assert described["processor"]["class"] == "DetrImageProcessorPil"
    assert described["processor"]["size"] == SIZE
    assert described["model_class"] == "DetrForObjectDetection"
    assert set(described["checkpoint"]["weights"]) == {"model.safetensors"}
    assert described["benchmark_labels_without_class"] == ["Pneumothorax"]
    json.dumps(described)


def test_threshold_and_max_detections(detr_dir: Path) -> None:
    image = images()[0]
    want = reference_boxes(detr_dir, image)
    cut = sorted(s for _, _, s in want)[6]  # keeps the 5 best (score > cut)
    record = load(detr_dir, threshold=cut).predict([sample(image, 0)], SPEC)[0]
    assert_same_boxes(boxes_of(record), [b for b in want if b[2] > cut])
    assert len(record.boxes) == 5
    capped = load(detr_dir, max_detections=3)
    assert_same_boxes(boxes_of(capped.predict([sample(image, 0)], SPEC)[0]), want[:3])
    assert capped.describe()["counts"]["boxes_beyond_max_detections"] == 9
    with pytest.raises(ValueError, match="threshold"):
        load(detr_dir, threshold=1.0)


def save_conditional_detr(path: Path, names: list[str]) -> Path:
    from transformers import ConditionalDetrConfig, ConditionalDetrForObjectDetection, ResNetConfig
    from transformers.models.conditional_detr.image_processing_pil_conditional_detr import (
        ConditionalDetrImageProcessorPil,
    )

    torch.manual_seed(5)
    backbone = ResNetConfig(
        num_channels=3, embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], layer_type="basic",
        out_features=["stage2"],
    )  # fmt: skip
    config = ConditionalDetrConfig(
        backbone_config=backbone, use_pretrained_backbone=False, d_model=16, encoder_layers=1, decoder_layers=1,
        encoder_ffn_dim=32, decoder_ffn_dim=32, encoder_attention_heads=2, decoder_attention_heads=2,
        num_queries=12, id2label=dict(enumerate(names)),
    )  # fmt: skip
    model = ConditionalDetrForObjectDetection(config).eval()
    with torch.no_grad():
        model.model.query_position_embeddings.weight.normal_(0, 3.0)
        for name, param in model.model.decoder.named_parameters():
            if "proj" in name and name.endswith("weight"):
                param.normal_(0, 1.0)
        model.class_labels_classifier.weight.normal_(0, 1.0)
    model.save_pretrained(path)
    ConditionalDetrImageProcessorPil(size=SIZE).save_pretrained(path)
    return path


def test_conditional_detr_top_k_over_query_class_pairs(tmp_path: Path) -> None:
    """Conditional DETR scores every (query, class) pair with a sigmoid and keeps the top k: one query may give
    boxes of several classes (transformers' ConditionalDetrImageProcessorPil.post_process_object_detection)."""
    ckpt = save_conditional_detr(tmp_path / "cond", NAMES)
    image = images()[1]  # 60x40
    model = load(ckpt, max_detections=7)
    assert model.describe()["post_process_kwargs"] == {"top_k": 7}
    record = model.predict([sample(image, 0)], SPEC)[0]
    logits, boxes = raw_outputs(ckpt, image, "ConditionalDetrForObjectDetection")
    prob = logits.sigmoid().numpy()  # (queries, classes): no "no object" logit
    flat = prob.reshape(-1)
    best = np.argsort(-flat, kind="stable")[:7]
    queries, labels = best // prob.shape[1], best % prob.shape[1]
    assert len(set(queries.tolist())) >= 3 and len(set(labels.tolist())) >= 2
    corners = to_pixels(boxes[queries], *image.shape)
    want = [(EXPECTED_NAME[int(c)], corners[k].tolist(), float(flat[best[k]])) for k, c in enumerate(labels)]
    assert_same_boxes(boxes_of(record), want)


def test_batch_of_one_equals_batch_of_four(detr_dir: Path) -> None:
    batch = [sample(im, i) for i, im in enumerate(images())]
    one = load(detr_dir, batch_size=1).predict(batch, SPEC)
    four = load(detr_dir, batch_size=4).predict(batch, SPEC)
    assert [r.id for r in one] == [r.id for r in four] == [s.record.id for s in batch]
    for a, b in zip(one, four, strict=True):
        assert_same_boxes(boxes_of(a), boxes_of(b), atol=1e-4)


def test_fixed_pad_size_is_warned_and_counted(detr_dir: Path, tmp_path: Path) -> None:
    """Size groups avoid batch padding; a processor that pads every image to a fixed pad_size cannot be avoided,
    so the adapter says which mapping it applies (the processor's: relative to the visible image)."""
    from transformers.models.detr.image_processing_pil_detr import DetrImageProcessorPil

    padded = tmp_path / "padded"
    padded.mkdir()
    for name in ("config.json", "model.safetensors"):
        (padded / name).write_bytes((detr_dir / name).read_bytes())
    DetrImageProcessorPil(size=SIZE, pad_size={"height": 96, "width": 96}).save_pretrained(padded)
    model = load(padded)
    with pytest.warns(UserWarning, match="fixed pad_size"):
        model.predict([sample(im, i) for i, im in enumerate(images()[:3])], SPEC)
    assert model.describe()["counts"]["padded_images"] == 3
    assert model.describe()["processor"]["pad_size"] == {"height": 96, "width": 96}
    no_pad = load(detr_dir)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        no_pad.predict([sample(im, i) for i, im in enumerate(images())], SPEC)
    assert no_pad.describe()["counts"]["padded_images"] == 0


def test_label_names_through_the_vocabulary_and_label_map(detr_dir: Path, tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match="glass shards"):
        model = load_model(f"hf-detect:{detr_dir}")
    described = model.describe()
    assert described["unmapped_labels"] == ["glass shards"]
    assert described["id2label"]["0"] == {
        "model_name": "Effusion",
        "name": "Pleural Effusion",
        "source": "vocabulary",
    }
    assert described["id2label"]["1"]["name"] == "Nodule"
    assert described["id2label"]["2"] == {
        "model_name": "glass shards",
        "name": "glass shards",
        "source": "unmapped",
    }
    batch = [sample(im, i) for i, im in enumerate(images())]
    records = model.predict(batch, SPEC)
    labels = {b.label for r in records for b in r.boxes or []}
    assert labels <= {"Pleural Effusion", "Nodule", "glass shards", "Mass"} and "glass shards" in labels
    unmapped = sum(b.label == "glass shards" for r in records for b in r.boxes or [])
    assert model.describe()["counts"]["boxes_with_unmapped_labels"] == unmapped

    # the label map wins: glass shards -> Foreign Object; Mass -> null = a background class, its boxes dropped
    label_map = tmp_path / "labels.yaml"
    label_map.write_text("glass shards: Foreign Object\nMASS: null\n", encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # nothing is unmapped any more: no warning
        mapped = load_model(f"hf-detect:{detr_dir}", label_map=str(label_map))
    again = mapped.predict(batch, SPEC)
    n_mass = sum(b.label == "Mass" for r in records for b in r.boxes or [])
    assert n_mass > 0
    renamed = [b.label for r in again for b in r.boxes or []]
    assert "Mass" not in renamed and "Foreign Object" in renamed
    assert renamed.count("Foreign Object") == unmapped
    counts = mapped.describe()["counts"]
    assert counts["background_boxes_dropped"] == n_mass and counts["boxes_with_unmapped_labels"] == 0
    assert mapped.describe()["id2label"]["2"]["source"] == "label_map"

    label_map.write_text("glass: Foreign Object\n", encoding="utf-8")
    with pytest.raises(ValueError, match="name no class"):
        load(detr_dir, label_map=str(label_map))
    label_map.write_text("glass shards: Shards\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not a cxrbench vocabulary name"):
        load(detr_dir, label_map=str(label_map))
    with pytest.raises(FileNotFoundError, match="label_map"):
        load(detr_dir, label_map=str(tmp_path / "absent.yaml"))


def test_half_precision_checkpoint(detr_dir: Path, tmp_path: Path) -> None:
    """A checkpoint saved in bf16 loads in bf16: pixels are cast to it, post-processing runs in float32."""
    from transformers import DetrForObjectDetection

    half = tmp_path / "bf16"
    model = DetrForObjectDetection.from_pretrained(detr_dir, local_files_only=True)
    model.to(torch.bfloat16).save_pretrained(half)
    (half / "preprocessor_config.json").write_text((detr_dir / "preprocessor_config.json").read_text())
    adapter = load(half)
    image = images()[0]
    record = adapter.predict([sample(image, 0)], SPEC)[0]
    assert adapter.describe()["dtype"] == "torch.bfloat16"
    want = reference_boxes(detr_dir, image)
    assert len(record.boxes) == len(want) == 12
    # bf16 moves boxes by a little: each float32 reference box has a bf16 box of its query within 3 px
    got = np.array([b.bbox for b in record.boxes])
    assert all(np.abs(got - np.array(box)).max(axis=1).min() < 3.0 for _, box, _ in want)


def test_missing_or_unusable_checkpoints(tmp_path: Path, detr_dir: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no Hugging Face checkpoint there"):
        load_model(f"hf-detect:{tmp_path / 'nowhere'}")
    no_processor = tmp_path / "no_processor"
    no_processor.mkdir()
    (no_processor / "config.json").write_text((detr_dir / "config.json").read_text())
    with pytest.raises(FileNotFoundError, match="preprocessor_config.json"):
        load_model(f"hf-detect:{no_processor}")
    (no_processor / "preprocessor_config.json").write_text(
        (detr_dir / "preprocessor_config.json").read_text()
    )
    with pytest.raises(FileNotFoundError, match="cannot load the weights"):
        load_model(f"hf-detect:{no_processor}")

    # a DETR whose backbone is timm's: one sentence naming timm, not an ImportError traceback
    from safetensors.torch import save_file
    from transformers import DetrConfig

    timm_dir = tmp_path / "timm"
    DetrConfig(d_model=16, encoder_layers=1, decoder_layers=1).save_pretrained(timm_dir)
    save_file({}, str(timm_dir / "model.safetensors"))
    (timm_dir / "preprocessor_config.json").write_text((detr_dir / "preprocessor_config.json").read_text())
    with pytest.raises(ValueError, match="timm"):
        load_model(f"hf-detect:{timm_dir}")

    # a processor that only exists for the torchvision backend
    tv_dir = tmp_path / "torchvision_only"
    tv_dir.mkdir()
    for name in ("config.json", "model.safetensors"):
        (tv_dir / name).write_bytes((detr_dir / name).read_bytes())
    (tv_dir / "preprocessor_config.json").write_text(
        json.dumps({"image_processor_type": "RfDetrImageProcessor"})
    )
    with pytest.raises(ValueError, match="only for the torchvision backend"):
        load(tv_dir)


@pytest.mark.slow
def test_run_on_demo_chestx_det(tmp_path: Path) -> None:
    from bench.datasets.demo import write_demo
    from bench.records import read_records
    from bench.run.runner import run
    from bench.run.score import ScoreSettings, build_results

    root = write_demo(tmp_path / "demo", names=("chestx-det",), n=8, seed=0, workers=1)["chestx-det"]
    names = ["Effusion", "Diffuse Nodule", "Pleural Thickening", "Atelectasis", "Emphysema", "glass shards"]
    ckpt = save_detr(tmp_path / "ckpt", names, seed=2)  # a seed whose boxes include the unmapped name
    settings = ScoreSettings(n_boot=20, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        outcome = run(
            f"hf-detect:{ckpt}", "chestx-det", root, split="test", out_dir=tmp_path / "run", batch_size=3,
            workers=0, settings=settings, progress=False, model_options={"batch_size": 2},
        )  # fmt: skip
    assert outcome.tasks == ["localization"]
    run_dir = tmp_path / "run"
    results = json.loads((run_dir / "results" / "localization.json").read_text(encoding="utf-8"))
    preds = read_records(run_dir / "predictions.jsonl", "pred")
    gt = read_records(run_dir / "gt.jsonl", "gt")
    assert [r.id for _, r in preds] == [r.id for _, r in gt] and len(gt) == 4
    assert all(len(r.boxes) == 12 for _, r in preds)
    # scoring predictions.jsonl directly gives the same numbers
    direct = build_results("localization", run_dir / "gt.jsonl", run_dir / "predictions.jsonl", settings)
    assert results == json.loads(json.dumps(direct))
    # boxes under names the ground truth lacks (the unmapped one included) are kept, then ignored and counted
    gt_labels = {b.label for _, r in gt for b in r.boxes or []}
    outside = [b.label for _, r in preds for b in r.boxes if b.label not in gt_labels]
    assert "glass shards" in outside
    assert results["notes"]["predicted_boxes_with_labels_outside_vocabulary"] == len(outside)
    assert any(
        np.isfinite(v["value"]) for v in results["metrics"].values() if isinstance(v, dict) and "value" in v
    )
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["model"]["spec"] == f"hf-detect:{ckpt}"
    assert manifest["model"]["counts"]["images"] == 4 and manifest["model"]["batch_size"] == 2
    assert manifest["model"]["unmapped_labels"] == ["glass shards"]
