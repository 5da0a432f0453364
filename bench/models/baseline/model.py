"""`baseline:WEIGHTS`: the reference baseline as a ModelAdapter (predict, fine-tune, save, describe)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from pycocotools import mask as mask_utils

from bench.models.base import TASKS, ModelAdapter, Sample, TaskSpec
from bench.models.baseline.network import BaselineNet, decode_boxes, resize_head
from bench.models.baseline.train import ResizeTo, Vocabulary, embed, make_items, to_input, train_network
from bench.records import Record, atomic_write_bytes
from bench.run.provenance import sha256_file

WEIGHTS_FORMAT = "cxrbench-baseline-v1"
DEFAULT_CONFIG: dict[str, Any] = {
    "size": 128,
    "width": 16,
    "epochs": 12,
    "batch_size": 16,
    "lr": 2e-3,
    "patience": 3,
    "box_top_k": 20,
    "box_min_score": 0.05,
    "train_threads": 2,
    "predict_threads": 1,
}
UNKNOWN_LABEL_SCORE = (
    0.5  # a label the model never saw gets an uninformative constant (AUC 0.5), noted in describe()
)


def configure_determinism(threads: int) -> None:
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(threads)


class BaselineModel(ModelAdapter):
    tasks = frozenset(TASKS)
    needs_images = True
    can_train = True

    def __init__(self, target_path: str | os.PathLike[str], *, device: str = "cpu", **options: Any):
        path = Path(target_path)
        if not path.is_file():
            raise FileNotFoundError(
                f"{path}: baseline weights not found; train them with `cxrbench train-baseline --data DIR --out {path}`"
            )
        state = torch.load(path, map_location="cpu", weights_only=True)
        if state.get("format") != WEIGHTS_FORMAT:
            raise ValueError(f"{path}: not a cxrbench baseline weights file (format {state.get('format')!r})")
        self.path = path
        self.weights_sha256 = sha256_file(path)
        self.device = torch.device(device)
        self._load_state(state)
        self.config.update({k: v for k, v in options.items() if k in DEFAULT_CONFIG})
        self.preprocess = ResizeTo(int(self.config["size"]))
        self.fine_tuned = False

    def _load_state(self, state: dict[str, Any]) -> None:
        self.config = {**DEFAULT_CONFIG, **state["config"]}
        self.vocab = Vocabulary(**state["vocab"])
        self.trained_on: list[str] = list(state.get("trained_on", []))
        self.train_log: dict[str, Any] = state.get("train_log", {})
        self.net = _new_net(self.vocab, self.config)
        self.net.load_state_dict(state["state_dict"])
        self.net.eval()
        self.bank_reports: list[str] = list(state["report_bank"]["reports"])
        self.bank_embeddings: torch.Tensor = state["report_bank"]["embeddings"]

    # -- creation and persistence -------------------------------------------------------------------------
    @staticmethod
    def pretrain(
        samples: list[Sample],
        val: list[Sample],
        out: str | os.PathLike[str],
        *,
        seed: int = 0,
        config: dict[str, Any] | None = None,
        trained_on: list[str] | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> dict[str, Any]:
        """Train from scratch on `samples` (full ground-truth records + pixels) and write the weights file."""
        cfg = {**DEFAULT_CONFIG, **(config or {})}
        configure_determinism(int(cfg["train_threads"]))
        torch.manual_seed(seed)
        vocab = _vocabulary(samples)
        net = _new_net(vocab, cfg)
        size = int(cfg["size"])
        train_items, val_items = make_items(samples, vocab, size), make_items(val, vocab, size)
        log = _train(net, train_items, val_items, vocab, cfg, seed, progress)
        reports, embeddings = _report_bank(net, train_items)
        state = _state(
            cfg, vocab, net, reports, embeddings, trained_on or [], {"pretrain": log, "seed": seed}
        )
        save_state(state, out)
        return log

    def state(self) -> dict[str, Any]:
        return _state(
            self.config,
            self.vocab,
            self.net,
            self.bank_reports,
            self.bank_embeddings,
            self.trained_on,
            self.train_log,
        )

    def save(self, path: str | os.PathLike[str]) -> None:
        save_state(self.state(), path)

    # -- ModelAdapter ---------------------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        return {
            "kind": "baseline",
            "weights": self.path.name,
            "weights_sha256": self.weights_sha256,
            "config": self.config,
            "vocabulary_sizes": {k: len(v) for k, v in self.vocab.to_json().items()},
            "trained_on": self.trained_on,
            "report_bank_size": len(self.bank_reports),
            "fine_tuned_in_run": self.fine_tuned,
            "unknown_label_score": UNKNOWN_LABEL_SCORE,
        }

    def fit(
        self, train: list[Sample], val: list[Sample], spec: TaskSpec, *, seed: int, **options: Any
    ) -> dict[str, Any]:
        cfg = {**self.config, **{k: v for k, v in options.items() if k in DEFAULT_CONFIG}}
        configure_determinism(int(cfg["train_threads"]))
        torch.manual_seed(seed)
        added = self._extend_vocabulary(_vocabulary(train), spec, seed)
        size = int(cfg["size"])
        train_items, val_items = make_items(train, self.vocab, size), make_items(val, self.vocab, size)
        self.net.to("cpu")
        log = _train(self.net, train_items, val_items, self.vocab, cfg, seed, options.get("progress"))
        reports, embeddings = _report_bank(self.net, train_items)
        if reports:  # retrieve from the target's own training reports
            self.bank_reports, self.bank_embeddings = reports, embeddings
        self.fine_tuned = True
        self.train_log = {**self.train_log, "fine_tune": {**log, "seed": seed, "added_vocabulary": added}}
        return {**log, "added_vocabulary": added, "report_bank_size": len(self.bank_reports)}

    def predict(self, batch: list[Sample], spec: TaskSpec) -> list[Record]:
        configure_determinism(int(self.config["predict_threads"]))
        size = int(self.config["size"])
        tasks = set(spec.tasks) & self.tasks
        images = np.stack([to_input(_pixels(s), size) for s in batch])[:, None]
        self.net.to(self.device)
        with torch.no_grad():
            out = {k: v.float().cpu() for k, v in self.net(torch.from_numpy(images).to(self.device)).items()}
        probs = torch.sigmoid(out["logits"]).numpy()
        label_index = {name: j for j, name in enumerate(self.vocab.labels)}
        box_index = {name: j for j, name in enumerate(self.vocab.box_labels)}
        struct_index = {name: j for j, name in enumerate(self.vocab.structures)}
        reports = self._retrieve(F.normalize(out["embedding"], dim=1), probs) if "report" in tasks else []
        records = []
        for i, sample in enumerate(batch):
            info = sample.record.image
            if info is None:
                raise ValueError(f"sample {sample.record.id!r} has no image size")
            fields: dict[str, Any] = {"id": sample.record.id, "image": info.model_dump()}
            if "classification" in tasks:
                fields["labels"] = {
                    name: round(float(probs[i, label_index[name]]), 6)
                    if name in label_index
                    else UNKNOWN_LABEL_SCORE
                    for name in spec.labels
                }
            if "localization" in tasks:
                wanted = {box_index[name] for name in spec.box_labels if name in box_index}
                found = decode_boxes(
                    out["heat"][i],
                    out["size"][i],
                    (info.width / size, info.height / size),
                    (info.width, info.height),
                    size,
                    top_k=int(self.config["box_top_k"]),
                    min_score=float(self.config["box_min_score"]),
                )
                fields["boxes"] = [
                    {"label": self.vocab.box_labels[label], "bbox": bbox, "score": score}
                    for label, score, bbox in found
                    if label in wanted
                ]
            if "segmentation" in tasks:
                fields["masks"] = self._masks(out["seg"][i], spec, struct_index, info.height, info.width)
            if "report" in tasks:
                fields["report"] = reports[i]
            records.append(Record.model_validate(fields))
        return records

    # -- internals --------------------------------------------------------------------------------------------
    def _masks(
        self, seg: torch.Tensor, spec: TaskSpec, struct_index: dict[str, int], height: int, width: int
    ) -> dict[str, dict[str, Any]]:
        wanted = [name for name in spec.structures if name in struct_index]
        if not wanted:
            return {}
        channels = seg[[struct_index[name] for name in wanted]][None]
        full = F.interpolate(channels, size=(height, width), mode="bilinear", align_corners=False)[0] > 0
        masks = {}
        for name, binary in zip(wanted, full.numpy().astype(np.uint8), strict=True):
            rle = mask_utils.encode(np.asfortranarray(binary))
            masks[name] = {"size": [height, width], "counts": rle["counts"].decode("ascii")}
        return masks

    def _retrieve(self, embeddings: torch.Tensor, probs: np.ndarray) -> list[str]:
        if len(self.bank_reports):
            best = (embeddings @ self.bank_embeddings.T).argmax(dim=1).tolist()
            return [self.bank_reports[j] for j in best]
        return [_template(self.vocab.labels, row) for row in probs]

    def _extend_vocabulary(self, seen: Vocabulary, spec: TaskSpec, seed: int) -> dict[str, list[str]]:
        generator = torch.Generator().manual_seed(seed)
        added: dict[str, list[str]] = {}
        for kind, names, layers in (
            ("labels", [*spec.labels, *seen.labels], [self.net.cls_head]),
            ("box_labels", [*spec.box_labels, *seen.box_labels], [self.net.heat_head]),
            ("structures", [*spec.structures, *seen.structures], [self.net.seg_head]),
        ):
            current: list[str] = getattr(self.vocab, kind)
            new = [n for n in dict.fromkeys(names) if n not in current]
            if new:
                for layer in layers:
                    resize_head(layer, len(current), len(current) + len(new), generator)
                current.extend(new)
                added[kind] = new
        return added


def _pixels(sample: Sample) -> np.ndarray:
    if sample.image is None:
        raise ValueError(f"sample {sample.record.id!r} has no pixels (the baseline needs images)")
    return sample.image


def _template(labels: list[str], probs: np.ndarray) -> str:
    found = [name for name, p in zip(labels, probs, strict=False) if p >= 0.5 and name != "No Finding"]
    if not found:
        return "FINDINGS: No acute abnormality. IMPRESSION: No acute cardiopulmonary process."
    return f"FINDINGS: {', '.join(found)}. IMPRESSION: {', '.join(found)}."


def _vocabulary(samples: list[Sample]) -> Vocabulary:
    labels, boxes, structures = {}, {}, {}
    for sample in samples:
        rec = sample.record
        labels.update(dict.fromkeys(rec.labels or {}))
        boxes.update(dict.fromkeys(b.label for b in rec.boxes or []))
        structures.update(dict.fromkeys(k for k, v in (rec.masks or {}).items() if v is not None))
    return Vocabulary(list(labels), list(boxes), list(structures))


def _new_net(vocab: Vocabulary, cfg: dict[str, Any]) -> BaselineNet:
    return BaselineNet(
        len(vocab.labels), len(vocab.box_labels), len(vocab.structures), width=int(cfg["width"])
    )


def _train(net, train_items, val_items, vocab, cfg, seed, progress) -> dict[str, Any]:  # noqa: ANN001
    return train_network(
        net,
        train_items,
        val_items,
        vocab,
        size=int(cfg["size"]),
        seed=seed,
        epochs=int(cfg["epochs"]),
        batch_size=int(cfg["batch_size"]),
        lr=float(cfg["lr"]),
        patience=int(cfg["patience"]),
        progress=progress,
    )


def _report_bank(net: BaselineNet, items: list) -> tuple[list[str], torch.Tensor]:  # noqa: ANN001
    with_report = [item for item in items if item.report]
    return [item.report for item in with_report], embed(net, [item.image for item in with_report])


def _state(
    cfg: dict[str, Any],
    vocab: Vocabulary,
    net: BaselineNet,
    reports: list[str],
    embeddings: torch.Tensor,
    trained_on: list[str],
    train_log: dict[str, Any],
) -> dict[str, Any]:
    return {
        "format": WEIGHTS_FORMAT,
        "config": dict(cfg),
        "vocab": vocab.to_json(),
        "state_dict": {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()},
        "report_bank": {"reports": list(reports), "embeddings": embeddings.detach().cpu().contiguous()},
        "trained_on": list(trained_on),
        "train_log": train_log,
    }


def save_state(state: dict[str, Any], path: str | os.PathLike[str]) -> None:
    import io

    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(path, buffer.getvalue())
