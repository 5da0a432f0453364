"""The reference package, f1chexbert 0.0.2, pointed at local weights, for parity tests and the benchmark.

`F1CheXbert()` hard-codes three hub look-ups: `BertTokenizer.from_pretrained('bert-base-uncased')`,
`AutoConfig.from_pretrained('bert-base-uncased')` and `download_model(...)` of `chexbert.pth` into its CACHE_DIR
when that file is absent. `local_f1chexbert` replaces exactly those names in the package's module with local
loaders (and makes a download an error), nothing else. It also gives the tokenizer back `encode_plus`, which
f1chexbert calls and transformers 5 removed, with transformers 4's meaning for a list of tokens
(`PreTrainedTokenizer._encode_plus`: `convert_tokens_to_ids`, then `[CLS] ... [SEP]`, no truncation), and its
`forward` the 3-tuple `sklearn.metrics._classification._check_targets` returned before scikit-learn 1.6 (newer ones
return (type, labels, y_true, y_pred, sample_weight)); that private helper only feeds its per-example accuracy.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def local_f1chexbert(checkpoint: str | Path, tokenizer_dir: str | Path, device: str = "cpu") -> Iterator[Any]:
    """An `f1chexbert.F1CheXbert` whose weights, tokenizer and config are the local ones; never downloads."""
    import f1chexbert.f1chexbert as reference
    from transformers import AutoConfig, BertTokenizer

    tokenizer_dir = str(tokenizer_dir)

    class LocalTokenizer:
        @staticmethod
        def from_pretrained(_name: str, *args: Any, **kwargs: Any) -> Any:
            tokenizer = BertTokenizer.from_pretrained(tokenizer_dir, local_files_only=True)

            def encode_plus(tokens: list[str]) -> dict[str, list[int]]:
                ids = tokenizer.convert_tokens_to_ids(list(tokens))
                return {"input_ids": [tokenizer.cls_token_id, *ids, tokenizer.sep_token_id]}

            tokenizer.encode_plus = encode_plus
            return tokenizer

    class LocalConfig:
        @staticmethod
        def from_pretrained(_name: str, *args: Any, **kwargs: Any) -> Any:
            return AutoConfig.from_pretrained(tokenizer_dir, local_files_only=True)

    def no_download(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("f1chexbert tried to download a model; the test gives it local weights")

    def check_targets(y_true: Any, y_pred: Any) -> tuple[Any, Any, Any]:
        checked = original_check_targets(y_true, y_pred)
        return (checked[0], checked[-3], checked[-2]) if len(checked) == 5 else checked

    names = ("CACHE_DIR", "download_model", "BertTokenizer", "AutoConfig", "_check_targets")
    saved = {name: getattr(reference, name) for name in names}
    original_check_targets = saved["_check_targets"]
    cache = tempfile.mkdtemp(prefix="f1chexbert-cache-")
    try:
        (Path(cache) / "chexbert.pth").symlink_to(Path(checkpoint).resolve())
        reference.CACHE_DIR = cache
        reference.download_model = no_download
        reference.BertTokenizer = LocalTokenizer
        reference.AutoConfig = LocalConfig
        reference._check_targets = check_targets
        yield reference.F1CheXbert(device=device)
    finally:
        for name, value in saved.items():
            setattr(reference, name, value)
        shutil.rmtree(cache, ignore_errors=True)
