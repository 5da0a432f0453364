"""A RadGraph model folder (as the `radgraph` package unpacks it) read offline, and its network in plain torch.

Folder layout (radgraph 0.1.18 `RadGraph.__init__`): `config.json` (DyGIE++ config: `dataset_reader.max_span_width`,
`dataset_reader.token_indexers.bert.{model_name,max_length}`, `model.{feature_size,feedforward_params,loss_weights,
modules.relation.spans_per_word}`), `vocabulary/` (AllenNLP files; `<dataset>__ner_labels.txt` starts with the
empty null label, `<dataset>__relation_labels.txt`) and `weights.th` (state dict of `dygie.DyGIE`). The transformer
named by `model_name` supplies only its config and tokenizer (a folder path, absolute or relative to the RadGraph
folder, or a name already in the local Hugging Face cache); its weights are in weights.th.

The network (DyGIE with NER and relation heads; coreference and events are off in every RadGraph config):
word vectors = mean of each word's wordpiece vectors from the transformer's last layer; span = every (start, end)
with end - start < max_span_width, vector [x_start, x_end, width_embedding]; NER = FeedForward (ReLU after every
layer) -> Linear, a fixed 0 for the null label, argmax; relations = the ceil(words * spans_per_word) spans with the
highest mention-pruner score, every ordered pair [a, b, a*b] -> FeedForward -> Linear, plus both mention scores, a
fixed 0 for null, argmax.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

EMBEDDER = "_embedder.token_embedder_bert._matched_embedder.transformer_model."
TOKENIZER_FILES = (
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
)


class RadGraphFolderError(ValueError):
    """A --radgraph folder that is missing or not in the published RadGraph layout."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class RadGraphFolder:
    path: Path
    dataset: str  # the vocabulary's namespace prefix: "radgraph" (v1), "radgraph-xl", ...
    entity_labels: tuple[str, ...]  # index 0 is the null label ""
    relation_labels: tuple[str, ...]
    max_span_width: int
    max_length: int | None
    feature_size: int
    spans_per_word: float
    transformer: str  # folder of the transformer's config and tokenizer
    transformer_name: str  # as written in config.json
    files: dict[str, str] = field(default_factory=dict)  # sha256 of every file that changes a graph

    @property
    def fingerprint(self) -> str:
        """One hash of all files (weights, config, vocabulary, tokenizer): the cache key of its graphs."""
        return hashlib.sha256(json.dumps(self.files, sort_keys=True).encode()).hexdigest()


def _get(config: dict[str, Any], dotted: str, source: Path) -> Any:
    node: Any = config
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            raise RadGraphFolderError(
                f"{source}: no '{dotted}' in the RadGraph config (not a RadGraph model folder)"
            )
        node = node[key]
    return node


def _labels(path: Path, null_first: bool) -> tuple[str, ...]:
    lines = path.read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines = lines[:-1]
    labels = tuple(line.replace("@@NEWLINE@@", "\n") for line in lines)
    if null_first and (not labels or labels[0] != ""):
        raise RadGraphFolderError(f"{path}: the NER label file must start with the empty null label")
    return labels


def _resolve_transformer(name: str, folder: Path) -> Path:
    for candidate in (Path(name), folder / name):
        if (candidate / "config.json").is_file():
            return candidate.resolve()
    try:
        from transformers.utils import cached_file

        found = cached_file(name, "config.json", local_files_only=True)
    except Exception:  # noqa: BLE001 - any failure means: not in the local cache
        found = None
    if found is None:
        raise RadGraphFolderError(
            f"{folder / 'config.json'} names the transformer {name!r}, which is neither a folder nor in the local "
            "Hugging Face cache (nothing is downloaded): put its config and tokenizer there first"
        )
    return Path(found).parent


def read_folder(path: str | os.PathLike[str]) -> RadGraphFolder:
    """Check the layout and read the settings of a RadGraph model folder (RadGraphFolderError if wrong)."""
    folder = Path(path)
    if not folder.is_dir():
        raise RadGraphFolderError(
            f"RadGraph model folder {str(path)!r} not found: pass --radgraph DIR (a local folder)"
        )
    for name in ("config.json", "weights.th", "vocabulary"):
        if not (folder / name).exists():
            raise RadGraphFolderError(
                f"{folder} has no {name}: a RadGraph model folder holds config.json, vocabulary/ and weights.th"
            )
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RadGraphFolderError(f"{folder / 'config.json'} is not valid JSON: {exc}") from None
    source = folder / "config.json"
    weights = _get(config, "model.loss_weights", source)
    if float(weights.get("coref", 0)) > 0 or float(weights.get("events", 0)) > 0:
        raise RadGraphFolderError(
            f"{source}: coreference or event heads are switched on; RadGraph models use neither"
        )
    prop = config.get("model", {}).get("modules", {}).get("coref", {}).get("coref_prop", 0)
    if prop:
        raise RadGraphFolderError(
            f"{source}: coref_prop = {prop}; RadGraph models do not propagate coreference"
        )
    ner_files = sorted((folder / "vocabulary").glob("*__ner_labels.txt"))
    if len(ner_files) != 1:
        raise RadGraphFolderError(
            f"{folder / 'vocabulary'} must hold exactly one <dataset>__ner_labels.txt, found {len(ner_files)}"
        )
    dataset = ner_files[0].name.removesuffix("__ner_labels.txt")
    relation_file = folder / "vocabulary" / f"{dataset}__relation_labels.txt"
    if not relation_file.is_file():
        raise RadGraphFolderError(f"{relation_file} is missing")
    indexer = _get(config, "dataset_reader.token_indexers.bert", source)
    name = str(_get(config, "dataset_reader.token_indexers.bert.model_name", source))
    layers = int(_get(config, "model.feedforward_params.num_layers", source))
    if layers < 1:
        raise RadGraphFolderError(f"{source}: feedforward_params.num_layers must be at least 1")
    transformer = _resolve_transformer(name, folder)
    files = {"config.json": _sha256(source), "weights.th": _sha256(folder / "weights.th")}
    for vocab_file in sorted((folder / "vocabulary").glob("*.txt")):
        files[f"vocabulary/{vocab_file.name}"] = _sha256(vocab_file)
    for tok in TOKENIZER_FILES:
        if (transformer / tok).is_file():
            files[f"transformer/{tok}"] = _sha256(transformer / tok)
    max_length = indexer.get("max_length")
    return RadGraphFolder(
        path=folder.resolve(),
        dataset=dataset,
        entity_labels=_labels(ner_files[0], null_first=True),
        relation_labels=_labels(relation_file, null_first=False),
        max_span_width=int(_get(config, "dataset_reader.max_span_width", source)),
        max_length=None if max_length is None else int(max_length),
        feature_size=int(_get(config, "model.feature_size", source)),
        spans_per_word=float(_get(config, "model.modules.relation.spans_per_word", source)),
        transformer=str(transformer),
        transformer_name=name,
        files=files,
    )


def _feedforward(state: dict[str, torch.Tensor], prefix: str) -> nn.Sequential:
    layers: list[nn.Module] = []
    k = 0
    while f"{prefix}._linear_layers.{k}.weight" in state:
        weight = state[f"{prefix}._linear_layers.{k}.weight"]
        linear = nn.Linear(weight.shape[1], weight.shape[0])
        linear.load_state_dict({"weight": weight, "bias": state[f"{prefix}._linear_layers.{k}.bias"]})
        layers += [linear, nn.ReLU()]
        k += 1
    if not layers:
        raise KeyError(f"{prefix}._linear_layers.0.weight")
    return nn.Sequential(*layers)


def _linear(state: dict[str, torch.Tensor], prefix: str) -> nn.Linear:
    weight = state[f"{prefix}.weight"]
    linear = nn.Linear(weight.shape[1], weight.shape[0])
    linear.load_state_dict({"weight": weight, "bias": state[f"{prefix}.bias"]})
    return linear


class RadGraphNet(nn.Module):
    """The inference path of DyGIE's RadGraph model: transformer, span extractor, NER and relation heads."""

    def __init__(self, folder: RadGraphFolder) -> None:
        super().__init__()
        from transformers import AutoConfig, AutoModel

        weights_path = folder.path / "weights.th"
        try:
            state = torch.load(weights_path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - pickle, zip and torch errors alike mean: not a state dict
            raise RadGraphFolderError(f"{weights_path} is not a torch state dict: {exc}") from None
        if not isinstance(state, dict):
            raise RadGraphFolderError(f"{weights_path} is not a torch state dict")
        ner, rel = f"{folder.dataset}__ner_labels", f"{folder.dataset}__relation_labels"
        try:
            config = AutoConfig.from_pretrained(folder.transformer, local_files_only=True)
            self.transformer = AutoModel.from_config(config)
            transformer_state = {
                k.removeprefix(EMBEDDER): v for k, v in state.items() if k.startswith(EMBEDDER)
            }
            self.transformer.load_state_dict(transformer_state, strict=True)
            self.width_embedding = nn.Embedding.from_pretrained(
                state["_endpoint_span_extractor._span_width_embedding.weight"], freeze=True
            )
            self.ner_feedforward = _feedforward(state, f"_ner._ner_scorers.{ner}.0._module")
            self.ner_scorer = _linear(state, f"_ner._ner_scorers.{ner}.1._module")
            pruner = f"_relation._mention_pruners.{rel}._scorer"
            self.mention_feedforward = _feedforward(state, f"{pruner}.0._module")
            self.mention_scorer = _linear(state, f"{pruner}.1._module")
            self.relation_feedforward = _feedforward(state, f"_relation._relation_feedforwards.{rel}")
            self.relation_scorer = _linear(state, f"_relation._relation_scorers.{rel}")
        except (KeyError, RuntimeError, OSError, ValueError) as exc:
            raise RadGraphFolderError(
                f"{weights_path} does not fit {folder.path / 'config.json'}: {exc}"
            ) from None
        span_dim = 2 * self.transformer.config.hidden_size + self.width_embedding.embedding_dim
        shapes = (
            (self.width_embedding.num_embeddings, folder.max_span_width, "span width embeddings"),
            (self.ner_feedforward[0].in_features, span_dim, "NER input"),
            (self.ner_scorer.out_features, len(folder.entity_labels) - 1, "NER labels"),
            (self.relation_feedforward[0].in_features, 3 * span_dim, "relation input"),
            (self.relation_scorer.out_features, len(folder.relation_labels), "relation labels"),
        )
        for got, expected, what in shapes:
            if got != expected:
                raise RadGraphFolderError(
                    f"{weights_path}: {what} {got} where the config and vocabulary need {expected}"
                )
        self.folder = folder
        self.eval()

    def mention_count(self, n_words: int) -> int:
        """Spans kept for relations: ceil(words * spans_per_word) in float32, as DyGIE computes it."""
        kept = (
            torch.ceil(torch.tensor(float(n_words)) * torch.tensor(self.folder.spans_per_word)).long().item()
        )
        return max(int(kept), 1)


def enumerate_spans(n_words: int, max_span_width: int) -> list[tuple[int, int]]:
    """(start, end) inclusive, start-major, as AllenNLP's `enumerate_spans`."""
    return [(s, e) for s in range(n_words) for e in range(s, min(s + max_span_width, n_words))]
