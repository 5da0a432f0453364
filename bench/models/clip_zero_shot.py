"""`clip:DIR`: CLIP-style zero-shot chest X-ray classification (CheXzero's positive / negative pair protocol).

A dual encoder (anything `AutoModel` loads with `get_image_features` / `get_text_features`: CLIP, SigLIP, ...)
is read from a local folder with its processor (PIL backend); nothing is downloaded.

Protocol (Tiu et al. 2022, CheXzero; github.com/rajpurkarlab/CheXzero, zero_shot.py): per label a positive
prompt ("{}") and a negative prompt ("no {}"); `predict()` takes the cosine similarity of the L2-normalised
image embedding with each prompt embedding, and `run_softmax_eval()` scores the label as
exp(s_pos) / (exp(s_pos) + exp(s_neg)) on those raw cosines: CheXzero applies no logit scale / temperature.
`logit_scale=True` multiplies both cosines by the model's exp(logit_scale) first (as CLIP's forward does); the
score is a monotone function of s_pos - s_neg either way, so rankings (AUC) do not change, only calibration.
Prompt ensembles: several templates per side are embedded, L2-normalised, averaged and renormalised
(CheXzero `zeroshot_classifier()`, copied from CLIP's notebooks/Prompt_Engineering_for_ImageNet.ipynb).

SigLIP is trained with a sigmoid per image-text pair (score = sigmoid(scale * cos + bias)); the pair protocol
is applied to it unchanged: softmax over the pair = sigmoid(scale * (cos_pos - cos_neg)), in which SigLIP's
logit_bias cancels. Its text is padded to 64 tokens with no attention mask, as the model was trained (the
transformers zero-shot pipeline pads SigLIP text to max_length=64; open_clip issue #984: SigLIP attends to
its padding; modeling_siglip pools the last position).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from bench.datasets.vocabulary import VOCABULARY
from bench.models.base import ModelAdapter, Sample, TaskSpec
from bench.models.hf_checkpoint import checkpoint_hashes, file_sha256
from bench.records import Record

DEFAULT_PROMPTS = Path(__file__).resolve().parent / "prompts" / "clip_chexzero.yaml"
PROMPT_KEYS = ("positive", "negative", "lowercase", "label_names", "label_prompts")
DTYPES = ("float32", "float16", "bfloat16")
SIGLIP_TEXT_LENGTH = (
    64  # transformers pipelines/zero_shot_image_classification.py; Siglip2Processor text_kwargs
)
PROTOCOL = "softmax over positive/negative pair"
PROTOCOL_SOURCE = (
    "CheXzero (Tiu et al. 2022), github.com/rajpurkarlab/CheXzero zero_shot.py: predict() (cosine similarity "
    "of normalised embeddings), run_softmax_eval() (exp(pos) / (exp(pos) + exp(neg))), zeroshot_classifier() "
    "(prompt ensemble: normalise, mean, renormalise)"
)
IMAGE_PROCESSOR_KEYS = (
    "do_resize", "size", "resample", "do_center_crop", "crop_size", "do_pad", "do_rescale", "rescale_factor",
    "do_normalize", "image_mean", "image_std", "do_convert_rgb",
)  # fmt: skip


# ---------------------------------------------------------------------------------------------- prompt set


@dataclass(frozen=True)
class ClipPromptSet:
    """Positive / negative templates, name overrides and per-label prompts: the default YAML's keys,
    replaced by those of a user YAML."""

    positive: tuple[str, ...]
    negative: tuple[str, ...]
    lowercase: bool
    label_names: dict[str, str]
    label_prompts: dict[str, tuple[tuple[str, ...], tuple[str, ...]]]
    files: tuple[tuple[str, str], ...]  # (path, sha256) of the default file, then the user file

    @classmethod
    def load(cls, path: str | Path | None = None) -> ClipPromptSet:
        merged = _read_prompt_yaml(DEFAULT_PROMPTS)
        files = [(str(DEFAULT_PROMPTS), file_sha256(DEFAULT_PROMPTS))]
        origin = {key: DEFAULT_PROMPTS for key in merged}
        if path is not None:
            user = _read_prompt_yaml(Path(path))
            merged.update(user)
            origin.update(dict.fromkeys(user, Path(path)))
            files.append((str(path), file_sha256(path)))
        missing = [key for key in PROMPT_KEYS if key not in merged]
        if missing:
            raise ValueError(f"{DEFAULT_PROMPTS}: missing key(s) {missing}")
        if not isinstance(merged["lowercase"], bool):
            raise ValueError(f"{origin['lowercase']}: lowercase must be true or false")
        names = _label_map(merged["label_names"], "label_names", origin["label_names"])
        for label, name in names.items():
            if not isinstance(name, str) or not name.strip():
                raise ValueError(
                    f"{origin['label_names']}: label_names[{label!r}] must be a non-empty string"
                )
        per_label = {}
        for label, pair in _label_map(
            merged["label_prompts"], "label_prompts", origin["label_prompts"]
        ).items():
            where = f"label_prompts[{label!r}]"
            if not isinstance(pair, dict) or set(pair) != {"positive", "negative"}:
                raise ValueError(
                    f"{origin['label_prompts']}: {where} must be a mapping with exactly the keys "
                    "positive, negative"
                )
            per_label[label] = (
                _templates(pair["positive"], f"{where}.positive", origin["label_prompts"], max_slots=1),
                _templates(pair["negative"], f"{where}.negative", origin["label_prompts"], max_slots=1),
            )
        return cls(
            positive=_templates(merged["positive"], "positive", origin["positive"]),
            negative=_templates(merged["negative"], "negative", origin["negative"]),
            lowercase=merged["lowercase"],
            label_names=dict(names),
            label_prompts=per_label,
            files=tuple(files),
        )

    def texts(self, label: str) -> tuple[list[str], list[str]]:
        """The positive and the negative prompts of one label."""
        name = self.label_names.get(label, label.lower() if self.lowercase else label)
        positive, negative = self.label_prompts.get(label, (self.positive, self.negative))
        return [t.replace("{}", name) for t in positive], [t.replace("{}", name) for t in negative]

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.files[-1][0],
            "sha256": self.files[-1][1],
            "files": [{"path": p, "sha256": h} for p, h in self.files],
            "positive": list(self.positive),
            "negative": list(self.negative),
            "lowercase": self.lowercase,
            "label_names": dict(self.label_names),
            "label_prompts": {
                k: {"positive": list(p), "negative": list(n)} for k, (p, n) in self.label_prompts.items()
            },
        }


def _read_prompt_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: prompt file not found (pass a YAML file with positive / negative templates)"
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        raise ValueError(f"{path}: not valid YAML{line} ({getattr(exc, 'problem', None) or exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a prompt file is a YAML mapping with keys {', '.join(PROMPT_KEYS)}")
    unknown = sorted(str(key) for key in set(data) - set(PROMPT_KEYS))
    if unknown:
        raise ValueError(f"{path}: unknown key(s) {unknown}; allowed: {', '.join(PROMPT_KEYS)}")
    return data


def _templates(value: Any, key: str, path: Path, max_slots: int | None = None) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(t, str) and t.strip() for t in items):
        raise ValueError(f"{path}: {key} must be a template string or a non-empty list of them")
    for template in items:
        slots = template.count("{}")
        if (max_slots is None and slots != 1) or (max_slots is not None and slots > max_slots):
            rule = "exactly one {}" if max_slots is None else "at most one {}"
            raise ValueError(f"{path}: {key} template {template!r} must contain {rule} (the label's name)")
    return tuple(items)


def _label_map(value: Any, key: str, path: Path) -> dict[str, Any]:
    value = {} if value is None else value
    if not isinstance(value, dict):
        raise ValueError(f"{path}: {key} must be a mapping of vocabulary label -> value")
    unknown = sorted(str(label) for label in value if label not in VOCABULARY)
    if unknown:
        raise ValueError(
            f"{path}: {key} names {unknown}, not cxrbench vocabulary labels (bench/datasets/vocabulary.py)"
        )
    return value


# ---------------------------------------------------------------------------------------------- adapter


def _missing_checkpoint(path: Path) -> FileNotFoundError:
    return FileNotFoundError(
        f"clip:{path}: no Hugging Face checkpoint there (no config.json); pass clip:DIR with a local folder "
        "written by save_pretrained (config.json, weights, processor and tokenizer files) - checkpoints are "
        "never downloaded"
    )


def _pooled(output: Any) -> Any:
    """transformers 5 returns a model output whose pooler_output is the projected embedding; 4.x a tensor."""
    return output if hasattr(output, "shape") else output.pooler_output


def _normalised(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=-1, keepdims=True)


class ClipZeroShotModel(ModelAdapter):
    tasks = frozenset({"classification"})
    score_type = "continuous"

    def __init__(
        self,
        path: str,
        *,
        prompts: str | None = None,
        logit_scale: bool = False,
        device: str = "cpu",
        batch_size: int = 16,
        dtype: str = "float32",
    ):
        self.root = Path(path)
        if not (self.root / "config.json").is_file():
            raise _missing_checkpoint(self.root)
        if dtype not in DTYPES:
            raise ValueError(f"dtype {dtype!r} is not one of {', '.join(DTYPES)}")
        if batch_size < 1:
            raise ValueError(f"batch_size {batch_size} must be at least 1")
        self.prompts = ClipPromptSet.load(prompts)
        import torch
        from transformers import AutoModel, AutoProcessor

        self.device = torch.device(device)
        self.batch_size = batch_size
        self.model = AutoModel.from_pretrained(self.root, local_files_only=True, dtype=getattr(torch, dtype))
        if not all(
            callable(getattr(self.model, m, None)) for m in ("get_image_features", "get_text_features")
        ):
            raise ValueError(
                f"clip:{self.root}: {type(self.model).__name__} is not a CLIP-style dual encoder "
                "(it lacks get_image_features / get_text_features)"
            )
        self.model.to(self.device).eval()
        try:
            processor = AutoProcessor.from_pretrained(self.root, local_files_only=True, backend="pil")
        except (OSError, ValueError, TypeError) as exc:
            raise FileNotFoundError(
                f"clip:{self.root}: no processor could be loaded from the folder ({type(exc).__name__}); "
                "save the model's processor (image processor + tokenizer) into it with save_pretrained"
            ) from None
        self.image_processor: Any = getattr(processor, "image_processor", None)
        self.tokenizer: Any = getattr(processor, "tokenizer", None)
        if self.image_processor is None or self.tokenizer is None:
            raise ValueError(
                f"clip:{self.root}: {type(processor).__name__} has no image processor and tokenizer pair; a "
                "CLIP-style checkpoint needs both"
            )
        self.model_type = str(self.model.config.model_type)
        self.siglip = "siglip" in self.model_type
        text_config = getattr(self.model.config, "text_config", self.model.config)
        self.max_text_tokens = int(getattr(text_config, "max_position_embeddings", 0)) or None
        if self.siglip:
            length = min(SIGLIP_TEXT_LENGTH, self.max_text_tokens or SIGLIP_TEXT_LENGTH)
            self.text_padding: dict[str, Any] = {"padding": "max_length", "max_length": length}
            self.text_inputs: tuple[str, ...] = ("input_ids",)
        else:
            self.text_padding = {"padding": True}
            self.text_inputs = ("input_ids", "attention_mask")
        if logit_scale and getattr(self.model, "logit_scale", None) is None:
            raise ValueError(
                f"clip:{self.root}: logit_scale=True but {type(self.model).__name__} has no logit_scale"
            )
        self.use_logit_scale = logit_scale
        self.scale = float(self.model.logit_scale.detach().float().exp().item()) if logit_scale else 1.0
        self.hashes = checkpoint_hashes(self.root)
        self._text_cache: dict[tuple[str, ...], tuple[np.ndarray, np.ndarray]] = {}
        self.images_scored = 0

    # ------------------------------------------------------------------ embeddings

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """(N, D) L2-normalised text embeddings, float64."""
        import torch

        limit = self.text_padding.get("max_length", self.max_text_tokens)
        for text, ids in zip(texts, self.tokenizer(texts)["input_ids"], strict=True):
            if limit is not None and len(ids) > limit:
                raise ValueError(
                    f"clip:{self.root}: prompt {text!r} is {len(ids)} tokens, more than the text encoder's "
                    f"{limit}; shorten it in the prompt file"
                )
        encoded = self.tokenizer(texts, return_tensors="pt", **self.text_padding)
        inputs = {key: encoded[key].to(self.device) for key in self.text_inputs if key in encoded}
        with torch.inference_mode():
            features = _pooled(self.model.get_text_features(**inputs))
        return _normalised(features.float().cpu().numpy().astype(np.float64))

    def label_embeddings(self, labels: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        """(L, D) positive and negative class embeddings (ensemble: normalise, mean, renormalise), cached."""
        if labels not in self._text_cache:
            prompts = [self.prompts.texts(label) for label in labels]
            unique = list(dict.fromkeys(t for pos, neg in prompts for t in (*pos, *neg)))
            embedded = dict(zip(unique, self.embed_texts(unique), strict=True))
            sides = [
                np.stack([_normalised(np.mean([embedded[t] for t in side], axis=0)) for side in pair])
                for pair in prompts
            ]
            self._text_cache[labels] = (np.stack([s[0] for s in sides]), np.stack([s[1] for s in sides]))
        return self._text_cache[labels]

    def embed_images(self, images: list[np.ndarray]) -> np.ndarray:
        """(B, D) L2-normalised image embeddings, float64; pixels made by the checkpoint's own processor."""
        import torch

        rows = []
        for start in range(0, len(images), self.batch_size):
            chunk = [to_pil_rgb(image) for image in images[start : start + self.batch_size]]
            encoded = self.image_processor(images=chunk, return_tensors="pt")
            inputs = {
                key: value.to(self.device, self.model.dtype if value.is_floating_point() else value.dtype)
                for key, value in encoded.items()
            }
            with torch.inference_mode():
                rows.append(_pooled(self.model.get_image_features(**inputs)).float().cpu().numpy())
        return _normalised(np.concatenate(rows).astype(np.float64))

    # ------------------------------------------------------------------ adapter

    def predict(self, batch: list[Sample], spec: TaskSpec) -> list[Record]:
        fields: list[dict[str, Any]] = [
            {"id": s.record.id, "image": s.record.image.model_dump() if s.record.image else None}
            for s in batch
        ]
        if "classification" in spec.tasks and spec.labels and batch:
            pixels: list[np.ndarray] = []
            for sample in batch:
                if sample.image is None:
                    raise ValueError(
                        f"clip:{self.root} needs pixels but sample {sample.record.id!r} has none"
                    )
                pixels.append(sample.image)
            positive, negative = self.label_embeddings(tuple(spec.labels))
            images = self.embed_images(pixels)
            # softmax over (s_pos, s_neg) = sigmoid(s_pos - s_neg) (CheXzero run_softmax_eval)
            margin = self.scale * (images @ positive.T - images @ negative.T)
            scores = 1.0 / (1.0 + np.exp(-margin))
            for row, record in zip(scores, fields, strict=True):
                record["labels"] = {name: float(value) for name, value in zip(spec.labels, row, strict=True)}
            self.images_scored += len(batch)
        return [Record(**record) for record in fields]

    def describe(self) -> dict[str, Any]:
        import transformers

        labels = dict.fromkeys([*VOCABULARY, *(name for key in self._text_cache for name in key)])
        texts = {}
        for label in labels:
            positive, negative = self.prompts.texts(label)
            texts[label] = {"positive": positive, "negative": negative}
        return {
            "spec": f"clip:{self.root}",
            "model_class": type(self.model).__name__,
            "model_type": self.model_type,
            "checkpoint": {"path": str(self.root), **self.hashes},
            "device": str(self.device),
            "dtype": str(self.model.dtype),
            "batch_size": self.batch_size,
            "image_processor": self._image_processor_settings(),
            "text_tokenization": {
                "tokenizer_class": type(self.tokenizer).__name__,
                **self.text_padding,
                "inputs": list(self.text_inputs),
            },
            "prompts": {**self.prompts.to_json(), "texts": texts},
            "protocol": {
                "name": PROTOCOL,
                "source": PROTOCOL_SOURCE,
                "similarity": "cosine of L2-normalised embeddings",
                "logit_scale": self.scale,
                "logit_scale_source": "model exp(logit_scale)" if self.use_logit_scale else "none (CheXzero)",
                "ensemble": "L2-normalise each prompt embedding, mean, renormalise",
            },
            "score_type": self.score_type,
            "images_scored": self.images_scored,
            "label_sets_embedded": len(self._text_cache),
            "transformers": transformers.__version__,
        }

    def _image_processor_settings(self) -> dict[str, Any]:
        settings = self.image_processor.to_dict()
        out: dict[str, Any] = {"class": type(self.image_processor).__name__}
        for key in IMAGE_PROCESSOR_KEYS:
            if key in settings:
                value = settings[key]
                out[key] = list(value) if isinstance(value, tuple) else value
        if isinstance(out.get("resample"), int):
            from PIL import Image

            out["resample"] = Image.Resampling(out["resample"]).name.lower()
        return out


def to_pil_rgb(image: np.ndarray) -> Any:
    """(H, W) float image in [0, 1] -> 8-bit RGB PIL image (grey replicated), what a CLIP processor takes."""
    from PIL import Image

    grey = np.round(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)
    return Image.fromarray(grey).convert("RGB")
