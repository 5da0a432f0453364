"""Random-weight RadGraph model folders in the published layout, for tests and benchmarks (no real weights ship).

The `radgraph` package unpacks its archives into a folder holding `config.json` (an AllenNLP/DyGIE++ training
config), `vocabulary/` (AllenNLP `Vocabulary.save_to_files`: `non_padded_namespaces.txt` and one
`<namespace>.txt` per label namespace, the NER file starting with the empty null label) and `weights.th` (a
`torch.save`d state dict of `dygie.DyGIE`, loaded with ``strict=True``). The transformer's own config and tokenizer
are found by `model_name` in the config (a hub name resolved from the local Hugging Face cache, or a path).
`write_random_radgraph` writes such a folder with a small BERT next to it; the output-layer biases make the
random model predict some entities and relations, so graphs are not empty.
"""

from __future__ import annotations

import json
from pathlib import Path

V1_ENTITY_LABELS = ("ANAT-DP", "OBS-DP", "OBS-U", "OBS-DA")  # RadGraph v1 schema (Jain et al. 2021)
V1_RELATION_LABELS = ("suggestive_of", "located_at", "modify")


def write_bert_folder(
    folder: str | Path,
    words: list[str],
    *,
    hidden: int = 32,
    layers: int = 2,
    heads: int = 2,
    intermediate: int = 64,
    max_positions: int = 512,
    vocab_size: int | None = None,
) -> Path:
    """A BERT config + WordPiece tokenizer (lower-casing) whose vocabulary is the specials, `words` and '##' pieces,
    padded with [unusedN] entries to `vocab_size` (SciBERT's is 31090)."""
    # transformers 5 keeps BertTokenizerFast as a runtime alias only (absent from its typed exports)
    from transformers import BertConfig, BertTokenizerFast  # type: ignore[attr-defined]

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)] + list("0123456789.,:;()/-%'")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *letters, *[f"##{c}" for c in letters]]
    vocab += [w for w in dict.fromkeys(w.lower() for w in words) if w not in vocab]
    vocab += [f"[unused{k}]" for k in range(max(0, (vocab_size or 0) - len(vocab)))]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    BertTokenizerFast(vocab={w: i for i, w in enumerate(vocab)}, do_lower_case=True).save_pretrained(folder)
    BertConfig(
        vocab_size=len(vocab),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=intermediate,
        max_position_embeddings=max_positions,
    ).save_pretrained(folder)
    return folder


def _feedforward(prefix: str, input_dim: int, hidden: int, layers: int, gen) -> dict:  # noqa: ANN001
    import torch

    out, dim = {}, input_dim
    for k in range(layers):
        out[f"{prefix}._linear_layers.{k}.weight"] = torch.randn(hidden, dim, generator=gen) / dim**0.5
        out[f"{prefix}._linear_layers.{k}.bias"] = torch.randn(hidden, generator=gen) * 0.1
        dim = hidden
    return out


def _linear(prefix: str, input_dim: int, output_dim: int, gen, bias: float = 0.0, scale: float = 1.0) -> dict:  # noqa: ANN001
    import torch

    return {
        f"{prefix}.weight": torch.randn(output_dim, input_dim, generator=gen) * scale / input_dim**0.5,
        f"{prefix}.bias": torch.randn(output_dim, generator=gen) * 0.1 + bias,
    }


def _centred_scorer(
    prefix: str,
    feedforward: dict,
    input_dim: int,
    output_dim: int,
    gen,
    bias: float,
    pair: bool = False,  # noqa: ANN001
) -> dict:
    """A label layer whose scores average `bias` over inputs like the model's (unit-variance features; for span
    pairs [a, b, a*b]), with a spread of about one unit between inputs: so a negative bias leaves a minority of
    spans or pairs above the null label's 0, whatever the random feed-forward's mean output is."""
    import torch

    if pair:
        a, b = (torch.randn(4096, input_dim // 3, generator=gen) for _ in range(2))
        x = torch.cat([a, b, a * b], dim=1)
    else:
        x = torch.randn(4096, input_dim, generator=gen)
    weights = sorted(n for n in feedforward if n.endswith(".weight"))
    for name in weights:  # the layers in order (_linear_layers.0, .1, ...); ReLU after each, as FeedForward
        x = torch.relu(x @ feedforward[name].T + feedforward[name.removesuffix("weight") + "bias"])
    weight = torch.randn(output_dim, x.shape[1], generator=gen)
    scores = x @ weight.T
    weight = weight / scores.std(dim=0).clamp_min(1e-6)[:, None]
    return {f"{prefix}.weight": weight, f"{prefix}.bias": bias - (x @ weight.T).mean(dim=0)}


def write_random_radgraph(
    folder: str | Path,
    transformer: str | Path,
    *,
    dataset: str = "radgraph",
    entity_labels: tuple[str, ...] = V1_ENTITY_LABELS,
    relation_labels: tuple[str, ...] = V1_RELATION_LABELS,
    max_span_width: int = 8,
    max_length: int | None = 512,
    feature_size: int = 20,
    ffnn_hidden: int = 150,
    ffnn_layers: int = 2,
    spans_per_word: float = 0.5,
    ner_bias: float = -2.0,
    relation_bias: float = -1.5,
    seed: int = 0,
) -> Path:
    """Write config.json, vocabulary/ and random weights.th of a DyGIE RadGraph model over `transformer`
    (a local transformers folder, recorded as `model_name`). Biases shift the label scores against the null
    label (score 0): about zero makes most spans entities, a few units negative leaves a minority."""
    import torch
    from transformers import AutoConfig, AutoModel

    folder = Path(folder)
    (folder / "vocabulary").mkdir(parents=True, exist_ok=True)
    ner_ns, rel_ns = f"{dataset}__ner_labels", f"{dataset}__relation_labels"
    (folder / "vocabulary" / "non_padded_namespaces.txt").write_text("*tags\n*labels\n", encoding="utf-8")
    (folder / "vocabulary" / f"{ner_ns}.txt").write_text(
        "\n".join(["", *entity_labels]) + "\n", encoding="utf-8"
    )
    (folder / "vocabulary" / f"{rel_ns}.txt").write_text("\n".join(relation_labels) + "\n", encoding="utf-8")

    bert: dict[str, str | int] = {"type": "pretrained_transformer_mismatched", "model_name": str(transformer)}
    if max_length is not None:
        bert["max_length"] = max_length
    config = {
        "dataset_reader": {
            "type": "dygie",
            "max_span_width": max_span_width,
            "token_indexers": {"bert": bert},
        },
        "model": {
            "type": "dygie",
            "embedder": {"token_embedders": {"bert": bert}},
            "feature_size": feature_size,
            "feedforward_params": {"dropout": 0.4, "hidden_dims": ffnn_hidden, "num_layers": ffnn_layers},
            "initializer": {"regexes": [["_span_width_embedding.weight", {"type": "xavier_normal"}]]},
            "loss_weights": {"coref": 0.0, "events": 0.0, "ner": 0.2, "relation": 1.0},
            "max_span_width": max_span_width,
            "module_initializer": {"regexes": [[".*weight", {"type": "xavier_normal"}]]},
            "modules": {
                "coref": {"coref_prop": 0, "max_antecedents": 100, "spans_per_word": 0.3},
                "events": {
                    "argument_spans_per_word": 0.8,
                    "loss_weights": {"arguments": 1.0, "trigger": 1.0},
                    "trigger_spans_per_word": 0.3,
                },
                "ner": {},
                "relation": {"spans_per_word": spans_per_word},
            },
            "target_task": "relation",
        },
    }
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")

    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    transformer_model = AutoModel.from_config(AutoConfig.from_pretrained(str(transformer)))
    state = {
        f"_embedder.token_embedder_bert._matched_embedder.transformer_model.{k}": v
        for k, v in transformer_model.state_dict().items()
    }
    hidden = transformer_model.config.hidden_size
    span_dim = 2 * hidden + feature_size
    state["_endpoint_span_extractor._span_width_embedding.weight"] = torch.randn(
        max_span_width, feature_size, generator=gen
    )
    ner = f"_ner._ner_scorers.{ner_ns}"
    ff = _feedforward(f"{ner}.0._module", span_dim, ffnn_hidden, ffnn_layers, gen)
    state |= ff | _centred_scorer(f"{ner}.1._module", ff, span_dim, len(entity_labels), gen, ner_bias)
    pruner = f"_relation._mention_pruners.{rel_ns}._scorer"
    ff = _feedforward(f"{pruner}.0._module", span_dim, ffnn_hidden, ffnn_layers, gen)
    state |= ff | _centred_scorer(f"{pruner}.1._module", ff, span_dim, 1, gen, 0.0)
    ff = _feedforward(
        f"_relation._relation_feedforwards.{rel_ns}", 3 * span_dim, ffnn_hidden, ffnn_layers, gen
    )
    state |= ff | _centred_scorer(
        f"_relation._relation_scorers.{rel_ns}",
        ff,
        3 * span_dim,
        len(relation_labels),
        gen,
        relation_bias,
        True,
    )
    # The coreference and event modules are built (and saved) even with loss weight 0; inference never runs them.
    state["_events._distance_embedding.weight"] = torch.randn(10, feature_size, generator=gen)
    state["_coref._distance_embedding.weight"] = torch.randn(10, feature_size, generator=gen)
    state |= _feedforward(
        "_coref._antecedent_feedforward._module", 3 * span_dim + feature_size, ffnn_hidden, ffnn_layers, gen
    )
    state |= _feedforward("_coref._mention_pruner._scorer.0._module", span_dim, ffnn_hidden, ffnn_layers, gen)
    state |= _linear("_coref._mention_pruner._scorer.1._module", ffnn_hidden, 1, gen)
    state |= _linear("_coref._antecedent_scorer._module", ffnn_hidden, 1, gen)
    state |= _feedforward("_coref._f_network", 2 * span_dim, span_dim, 1, gen)
    torch.save(state, folder / "weights.th")
    return folder
