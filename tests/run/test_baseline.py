"""The reference baseline: deterministic training, well-formed predictions, fine-tuning with vocabulary growth."""

from __future__ import annotations

from pathlib import Path

import pytest
from pycocotools import mask as mask_utils

from bench.datasets import get_adapter
from bench.models import load_model
from bench.models.baseline.pretrain import train_baseline
from bench.run.loader import load_samples
from bench.run.provenance import sha256_file
from bench.run.runner import build_spec


def _samples(model, root: Path, dataset: str, split: str, strip: bool = True):
    records = list(get_adapter(dataset).records(root / dataset, split))
    return records, load_samples(records, root / dataset, preprocess=model.preprocess, workers=0, strip=strip)


def test_training_is_deterministic(
    demo_data: Path, weights: Path, tmp_path: Path, tiny_config: dict, demo_names: tuple
) -> None:
    again = tmp_path / "again.pt"
    other_seed = tmp_path / "seed1.pt"
    train_baseline(demo_data, again, seed=0, datasets=demo_names, workers=0, config=tiny_config)
    train_baseline(demo_data, other_seed, seed=1, datasets=demo_names, workers=0, config=tiny_config)
    assert sha256_file(again) == sha256_file(weights)
    assert sha256_file(other_seed) != sha256_file(weights)
    model = load_model(f"baseline:{weights}")
    assert model.describe()["weights_sha256"] == sha256_file(weights)
    assert set(model.describe()["trained_on"]) == set(demo_names)


def test_predictions_cover_the_spec_in_original_pixels(demo_data: Path, weights: Path) -> None:
    model = load_model(f"baseline:{weights}")
    records, samples = _samples(model, demo_data, "jsrt", "fold2")
    spec = build_spec(records, ["classification", "localization", "segmentation"])
    spec.labels.append("Never Seen Label")
    first = model.predict(samples, spec)
    second = model.predict(samples[:3], spec)  # same inputs, same outputs regardless of the rest of the batch
    assert [p.id for p in first] == [r.id for r in records]
    assert [p.model_dump() for p in second] == [p.model_dump() for p in first[:3]]
    for pred, gt in zip(first, records, strict=True):
        assert set(pred.labels) == set(spec.labels)
        assert pred.labels["Never Seen Label"] == 0.5
        assert all(0.0 <= v <= 1.0 for v in pred.labels.values())
        assert set(pred.masks) == set(spec.structures)
        for rle in pred.masks.values():
            assert tuple(rle.size) == (gt.image.height, gt.image.width)
            decoded = mask_utils.decode({"size": list(rle.size), "counts": rle.counts.encode()})
            assert decoded.shape == (gt.image.height, gt.image.width)
        for box in pred.boxes:
            x0, y0, x1, y1 = box.bbox
            assert 0 <= x0 <= x1 <= gt.image.width and 0 <= y0 <= y1 <= gt.image.height
            assert box.label in spec.box_labels and 0.0 <= box.score <= 1.0
        assert pred.report is None  # not asked for


def test_fit_grows_the_vocabulary_and_changes_outputs(demo_data: Path, weights: Path, tmp_path: Path) -> None:
    model = load_model(f"baseline:{weights}")
    records, samples = _samples(model, demo_data, "shenzhen", "test")
    _, train = _samples(model, demo_data, "shenzhen", "train", strip=False)
    spec = build_spec(records, ["classification", "segmentation"])
    spec.labels.append("Brand New")
    before = model.predict(samples, spec)
    log = model.fit(train, [], spec, seed=0, epochs=2)
    after = model.predict(samples, spec)
    assert log["added_vocabulary"] == {"labels": ["Brand New"]}
    assert log["n_train"] == len(train) and log["epochs_run"] <= 2
    assert after[0].labels["Brand New"] != 0.5  # now a trained output, no longer the unknown-label constant
    assert any(a.labels != b.labels for a, b in zip(after, before, strict=True))
    model.save(tmp_path / "ft.pt")
    reloaded = load_model(f"baseline:{tmp_path / 'ft.pt'}")
    assert [p.model_dump() for p in reloaded.predict(samples, spec)] == [p.model_dump() for p in after]


def test_report_retrieval_returns_a_training_report(tmp_path: Path, tiny_config: dict) -> None:
    from bench.datasets.demo import write_demo

    write_demo(tmp_path / "d", names=["mimic-cxr"], n=10, seed=0, workers=1)
    path = tmp_path / "w.pt"
    train_baseline(tmp_path / "d", path, seed=0, datasets=("mimic-cxr",), workers=0, config=tiny_config)
    model = load_model(f"baseline:{path}")
    records, samples = _samples(model, tmp_path / "d", "mimic-cxr", "test")
    bank = {r.report for r in get_adapter("mimic-cxr").records(tmp_path / "d" / "mimic-cxr", "train")}
    preds = model.predict(samples, build_spec(records, ["report"]))
    assert all(p.report in bank for p in preds)
    assert preds[0].labels is None


def test_missing_or_foreign_weights_are_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="train-baseline"):
        load_model(f"baseline:{tmp_path / 'nope.pt'}")
    import torch

    torch.save({"format": "something-else"}, tmp_path / "x.pt")
    with pytest.raises(ValueError, match="not a cxrbench baseline"):
        load_model(f"baseline:{tmp_path / 'x.pt'}")
