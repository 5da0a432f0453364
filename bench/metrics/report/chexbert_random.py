"""A random-weight CheXbert in the authors' published format, for tests and benchmarks (no real weights needed).

`write_random_chexbert` saves `chexbert.pth` ({"epoch", "model_state_dict", "optimizer_state_dict"}, keys
prefixed `module.` as `nn.DataParallel` saves them, with the `bert.embeddings.position_ids` buffer older
transformers stored) and a BERT tokenizer folder (vocab.txt, tokenizer_config.json, config.json).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path

SPECIAL = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
_WORD = re.compile(r"[a-z]+|[0-9]|[^\sa-z0-9]")


def vocabulary(texts: Iterable[str], size: int | None = None) -> list[str]:
    """Special tokens, single characters, the lower-cased words of `texts`, a few suffix pieces, then
    `[unusedK]` fillers up to `size` entries (bert-base-uncased has 30522)."""
    words: dict[str, None] = dict.fromkeys(SPECIAL)
    for ch in "abcdefghijklmnopqrstuvwxyz0123456789.,;:()-/%'":
        words.setdefault(ch, None)
    for ch in "abcdefghijklmnopqrstuvwxyz":
        words.setdefault("##" + ch, None)
    for piece in ("##s", "##ed", "##ing", "##al", "##ly", "##ic"):
        words.setdefault(piece, None)
    for text in texts:
        for token in _WORD.findall(text.lower()):
            words.setdefault(token, None)
    out = list(words)
    k = 0
    while size is not None and len(out) < size:
        out.append(f"[unused{k}]")
        k += 1
    return out


def write_random_chexbert(
    folder: str | Path,
    texts: Iterable[str] = (),
    *,
    hidden_size: int = 32,
    num_hidden_layers: int = 2,
    num_attention_heads: int = 4,
    intermediate_size: int = 64,
    vocab_size: int | None = None,
    head_std: float = 1.0,
    encoder_std: float = 0.5,
    seed: int = 0,
) -> tuple[Path, Path]:
    """(checkpoint path, tokenizer folder) of a random CheXbert; `encoder_std` (BERT's initializer_range) and
    `head_std` are large so that random weights give labels that vary from report to report."""
    import torch
    from transformers import BertConfig

    from bench.metrics.report.chexbert import _build_labeller

    folder = Path(folder)
    tokenizer_dir = folder / "tokenizer"
    tokenizer_dir.mkdir(parents=True, exist_ok=True)
    vocab = vocabulary(texts, vocab_size)
    (tokenizer_dir / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    (tokenizer_dir / "tokenizer_config.json").write_text(
        json.dumps({"do_lower_case": True, "model_max_length": 512, "tokenizer_class": "BertTokenizer"}),
        encoding="utf-8",
    )
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=hidden_size,
        num_hidden_layers=num_hidden_layers,
        num_attention_heads=num_attention_heads,
        intermediate_size=intermediate_size,
        max_position_embeddings=512,
        initializer_range=encoder_std,
    )
    (tokenizer_dir / "config.json").write_text(config.to_json_string(), encoding="utf-8")
    torch.manual_seed(seed)
    model = _build_labeller(config)
    with torch.no_grad():
        for head in model.linear_heads:
            head.weight.normal_(0.0, head_std)
            head.bias.zero_()
    state = {f"module.{k}": v for k, v in model.state_dict().items()}
    state["module.bert.embeddings.position_ids"] = torch.arange(512).unsqueeze(0)
    checkpoint = folder / "chexbert.pth"
    torch.save({"epoch": 0, "model_state_dict": state, "optimizer_state_dict": {}}, checkpoint)
    return checkpoint, tokenizer_dir
