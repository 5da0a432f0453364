"""CheXbert (Smit et al. 2020) report labeller, loaded offline from the checkpoint its authors publish.

The checkpoint is `chexbert.pth`: a dict whose `model_state_dict` holds a BERT encoder (`bert.*`) and 14 linear
heads on the [CLS] vector (`linear_heads.0..13`; 13 four-class heads blank/positive/negative/uncertain and a
two-class No Finding head), saved from `nn.DataParallel` (keys prefixed `module.`). The encoder's hyper-parameters
are read from the shapes in the checkpoint; the attention-head count (not visible in any shape) comes from the
tokenizer folder's `config.json` when it has one (the reference builds the model from bert-base-uncased's config)
and is otherwise hidden_size / 64, BERT's convention.

Reports are prepared as the reference code does (f1chexbert 0.0.2 `tokenize`, the same as CheXbert's
`src/bert_tokenizer.py`): strip, newlines to spaces, whitespace runs to one space; WordPiece; `[CLS] ... [SEP]`;
an empty report is `[CLS] [SEP]`; more than 512 tokens keeps the first 511 and a final `[SEP]`. Inference is
batched (reports sorted by length, padded, with an attention mask); the reference labels one report per forward.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.labelsets import CHEXPERT_14
from bench.run.provenance import sha256_file

CHEXBERT_LABELS = (
    "Enlarged Cardiomediastinum",
    "Cardiomegaly",
    "Lung Opacity",
    "Lung Lesion",
    "Edema",
    "Consolidation",
    "Pneumonia",
    "Atelectasis",
    "Pneumothorax",
    "Pleural Effusion",
    "Pleural Other",
    "Fracture",
    "Support Devices",
    "No Finding",
)
# CheXbert's heads are in the checkpoint's own order (f1chexbert's `target_names`), not the labeler's column order
assert set(CHEXBERT_LABELS) == set(CHEXPERT_14), "CheXbert's observations are the CheXpert labeler's 14"
MAX_TOKENS = 512
HEAD_CLASSES = (4,) * 13 + (2,)
TOKENIZER_FILES = ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
_WHITESPACE = re.compile(r"\s+")


class ChexbertError(ValueError):
    """A checkpoint or tokenizer that cannot be CheXbert's: one sentence naming the file (exit status 2)."""


@dataclass(frozen=True)
class ChexbertSpec:
    """Where the CheXbert weights and tokenizer are, and how to run them (`cxrbench score --chexbert ...`)."""

    checkpoint: str
    tokenizer: str
    device: str = "cpu"
    batch_size: int = 32
    cache_dir: str | None = (
        None  # None: the user cache (bench.metrics.report.chexbert_cache.default_cache_dir)
    )
    use_cache: bool = True


@dataclass(frozen=True)
class ChexbertOutput:
    """Per report: the argmax class of each of the 14 heads, the [CLS] vector, and the untruncated token count."""

    classes: np.ndarray  # (n, 14) int8: 0 blank, 1 positive, 2 negative, 3 uncertain (No Finding: 0 / 1)
    cls: np.ndarray  # (n, hidden) float32: the final layer's [CLS] vector (CXR-Report-Metric's s_emb input)
    n_tokens: np.ndarray  # (n,) int64: tokens with [CLS]/[SEP] before truncation to 512

    @property
    def n_truncated(self) -> int:
        return int((self.n_tokens > MAX_TOKENS).sum())


def prepare_text(report: str) -> str:
    """f1chexbert's / CheXbert's clean-up: strip, newlines to spaces, whitespace runs to one space, strip."""
    return _WHITESPACE.sub(" ", report.strip().replace("\n", " ")).strip()


def encode_reports(tokenizer: Any, reports: Sequence[str]) -> tuple[list[list[int]], np.ndarray]:
    """Token ids per report, truncated as the reference does, and each report's length before truncation."""
    texts = [prepare_text(r) for r in reports]
    transformers_logger = logging.getLogger("transformers.tokenization_utils_base")
    level = transformers_logger.level
    transformers_logger.setLevel(logging.ERROR)  # the "longer than 512" warning: we count truncations instead
    try:
        encoded = tokenizer(texts, add_special_tokens=True, truncation=False)["input_ids"] if texts else []
    finally:
        transformers_logger.setLevel(level)
    ids, lengths = [], np.zeros(len(texts), dtype=np.int64)
    for i, row in enumerate(encoded):
        lengths[i] = len(row)
        ids.append(row[: MAX_TOKENS - 1] + [tokenizer.sep_token_id] if len(row) > MAX_TOKENS else list(row))
    return ids, lengths


def _strip_state_dict(state: dict[str, Any]) -> dict[str, Any]:
    """DataParallel's `module.` prefix off; old LayerNorm gamma/beta names; buffers the model rebuilds dropped."""
    out = {}
    for key, value in state.items():
        name = key.removeprefix("module.")
        name = name.replace("LayerNorm.gamma", "LayerNorm.weight").replace("LayerNorm.beta", "LayerNorm.bias")
        if name.endswith(("embeddings.position_ids", "embeddings.token_type_ids")):
            continue
        out[name] = value
    return out


def _read_checkpoint(path: Path) -> dict[str, Any]:
    import torch

    if not path.is_file():
        raise FileNotFoundError(
            f"CheXbert checkpoint {str(path)!r} not found: pass --chexbert PATH/chexbert.pth (the authors' file)."
        )
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for a file that is not a checkpoint
        raise ChexbertError(
            f"CheXbert checkpoint {str(path)!r} is not a PyTorch checkpoint torch.load can read safely "
            f"({type(exc).__name__}): pass the authors' chexbert.pth."
        ) from None
    if not isinstance(blob, dict) or not isinstance(blob.get("model_state_dict"), dict):
        raise ChexbertError(
            f"CheXbert checkpoint {str(path)!r} has no 'model_state_dict' entry: pass the authors' chexbert.pth "
            "(a dict with model_state_dict), not a bare state dict or another model."
        )
    return _strip_state_dict(blob["model_state_dict"])


def _config_from_state(state: dict[str, Any], path: Path, tokenizer_dir: Path) -> Any:
    from transformers import BertConfig

    def shape(key: str) -> tuple[int, ...]:
        if key not in state:
            raise ChexbertError(
                f"CheXbert checkpoint {str(path)!r} has no {key!r}: it is not a CheXbert labeller "
                "(BERT encoder + 14 linear heads)."
            )
        return tuple(state[key].shape)

    vocab, hidden = shape("bert.embeddings.word_embeddings.weight")
    layers = 1 + max((int(k.split(".")[3]) for k in state if k.startswith("bert.encoder.layer.")), default=-1)
    fields: dict[str, Any] = {
        "vocab_size": vocab,
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "intermediate_size": shape("bert.encoder.layer.0.intermediate.dense.weight")[0]
        if layers
        else 4 * hidden,
        "max_position_embeddings": shape("bert.embeddings.position_embeddings.weight")[0],
        "type_vocab_size": shape("bert.embeddings.token_type_embeddings.weight")[0],
    }
    extra: dict[str, Any] = {"num_attention_heads": max(1, hidden // 64)}
    config_file = tokenizer_dir / "config.json"
    if config_file.is_file():
        try:
            given = json.loads(config_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise ChexbertError(f"{str(config_file)!r} is not valid JSON: fix or remove it.") from None
        for key, value in fields.items():
            if key in given and given[key] != value:
                raise ChexbertError(
                    f"{str(config_file)!r} says {key}={given[key]} but the CheXbert checkpoint {str(path)!r} "
                    f"has {value}: pass the tokenizer folder of the BERT the checkpoint was trained from."
                )
        for key in ("num_attention_heads", "hidden_act", "layer_norm_eps"):
            if key in given:
                extra[key] = given[key]
    if hidden % extra["num_attention_heads"]:
        raise ChexbertError(
            f"CheXbert checkpoint {str(path)!r}: hidden size {hidden} is not a multiple of "
            f"{extra['num_attention_heads']} attention heads."
        )
    if fields["max_position_embeddings"] < MAX_TOKENS:
        raise ChexbertError(
            f"CheXbert checkpoint {str(path)!r} has {fields['max_position_embeddings']} positions; CheXbert reads "
            f"up to {MAX_TOKENS} tokens."
        )
    return BertConfig(**fields, **extra)


def _build_labeller(config: Any) -> Any:
    import torch
    from transformers import BertModel

    class ChexbertLabeller(torch.nn.Module):
        """CheXbert's `bert_labeler`: BERT, then 14 linear heads on the final [CLS] vector (dropout is off)."""

        def __init__(self) -> None:
            super().__init__()
            self.bert = BertModel(config)
            self.linear_heads = torch.nn.ModuleList(
                [torch.nn.Linear(config.hidden_size, k, bias=True) for k in HEAD_CLASSES]
            )

        def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            cls = self.bert(ids, attention_mask=mask)[0][:, 0, :]
            classes = torch.stack([head(cls).argmax(dim=1) for head in self.linear_heads], dim=1)
            return classes, cls

    return ChexbertLabeller()


def tokenizer_fingerprint(tokenizer_dir: str | Path) -> dict[str, str]:
    folder = Path(tokenizer_dir)
    return {name: sha256_file(folder / name) for name in TOKENIZER_FILES if (folder / name).is_file()}


def _load_tokenizer(tokenizer_dir: Path) -> Any:
    from transformers import BertTokenizer

    if not tokenizer_dir.is_dir():
        raise FileNotFoundError(
            f"CheXbert tokenizer folder {str(tokenizer_dir)!r} not found: pass --chexbert-tokenizer DIR (a local "
            "bert-base-uncased folder with vocab.txt)."
        )
    if not (tokenizer_dir / "vocab.txt").is_file() and not (tokenizer_dir / "tokenizer.json").is_file():
        raise ChexbertError(
            f"CheXbert tokenizer folder {str(tokenizer_dir)!r} has neither vocab.txt nor tokenizer.json: pass a "
            "bert-base-uncased tokenizer folder."
        )
    try:
        return BertTokenizer.from_pretrained(str(tokenizer_dir), local_files_only=True)
    except Exception as exc:  # transformers raises OSError, ValueError, KeyError... for a broken folder
        raise ChexbertError(
            f"CheXbert tokenizer folder {str(tokenizer_dir)!r} cannot be loaded as a BERT tokenizer "
            f"({type(exc).__name__}): pass a bert-base-uncased tokenizer folder."
        ) from None


@dataclass
class LoadedChexbert:
    model: Any
    tokenizer: Any
    device: str
    checkpoint_sha256: str
    tokenizer_sha256: dict[str, str]
    config: dict[str, int]


def load_chexbert(spec: ChexbertSpec) -> LoadedChexbert:
    """Checkpoint + tokenizer, checked against each other; ChexbertError / FileNotFoundError name the file."""
    import torch

    path, tokenizer_dir = Path(spec.checkpoint), Path(spec.tokenizer)
    if spec.device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {spec.device}: no CUDA device is available here; use --device cpu.")
    state = _read_checkpoint(path)
    tokenizer = _load_tokenizer(tokenizer_dir)
    config = _config_from_state(state, path, tokenizer_dir)
    if tokenizer.vocab_size != config.vocab_size:
        raise ChexbertError(
            f"CheXbert tokenizer folder {str(tokenizer_dir)!r} has {tokenizer.vocab_size} tokens but the "
            f"checkpoint {str(path)!r} embeds {config.vocab_size}: pass the tokenizer the checkpoint was trained "
            "with (bert-base-uncased)."
        )
    model = _build_labeller(config)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [k for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape)]
    if missing or unexpected or wrong:
        first = (missing or unexpected or wrong)[0]
        what = "lacks" if missing else "has an unexpected" if unexpected else "has a wrongly shaped"
        raise ChexbertError(
            f"CheXbert checkpoint {str(path)!r} {what} parameter {first!r} "
            f"({len(missing)} missing, {len(unexpected)} unexpected, {len(wrong)} wrongly shaped): it is not "
            "CheXbert's BERT + 14 heads (13 of 4 classes, No Finding of 2)."
        )
    model.load_state_dict(state, strict=True)
    model.eval().to(spec.device)
    return LoadedChexbert(
        model=model,
        tokenizer=tokenizer,
        device=spec.device,
        checkpoint_sha256=sha256_file(path),
        tokenizer_sha256=tokenizer_fingerprint(tokenizer_dir),
        config={
            "vocab_size": config.vocab_size,
            "hidden_size": config.hidden_size,
            "num_hidden_layers": config.num_hidden_layers,
            "num_attention_heads": config.num_attention_heads,
        },
    )


def run_chexbert(
    loaded: LoadedChexbert,
    reports: Sequence[str],
    batch_size: int = 32,
    progress: Callable[[int], None] | None = None,
) -> ChexbertOutput:
    """Label reports in length-sorted batches; `progress(k)` is called after each batch with its size."""
    import torch

    ids, lengths = encode_reports(loaded.tokenizer, reports)
    n, hidden = len(ids), loaded.config["hidden_size"]
    classes = np.zeros((n, len(HEAD_CLASSES)), dtype=np.int8)
    cls = np.zeros((n, hidden), dtype=np.float32)
    order = sorted(range(n), key=lambda i: (-len(ids[i]), i))
    pad = loaded.tokenizer.pad_token_id or 0
    with torch.inference_mode():
        for start in range(0, n, batch_size):
            chunk = order[start : start + batch_size]
            width = len(ids[chunk[0]])
            batch = torch.full((len(chunk), width), pad, dtype=torch.long)
            mask = torch.zeros((len(chunk), width), dtype=torch.long)
            for row, i in enumerate(chunk):
                batch[row, : len(ids[i])] = torch.tensor(ids[i], dtype=torch.long)
                mask[row, : len(ids[i])] = 1
            out_classes, out_cls = loaded.model(batch.to(loaded.device), mask.to(loaded.device))
            classes[chunk] = out_classes.cpu().numpy().astype(np.int8)
            cls[chunk] = out_cls.float().cpu().numpy()
            if progress is not None:
                progress(len(chunk))
    return ChexbertOutput(classes=classes, cls=cls, n_tokens=lengths)


def corpus_sha256(texts: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for text in texts:
        digest.update(hashlib.sha256(text.encode("utf-8")).digest())
    return digest.hexdigest()
