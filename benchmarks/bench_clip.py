"""Images/s of `clip:DIR` zero-shot classification on CPU: the adapter vs the bare transformers forward.

A small CLIP (224 px, patch 32, 4-layer towers of width 256; seeded random weights, built and saved here) scores
the same grey images both ways, in batches of `--batch`:

- adapter: `ClipZeroShotModel.predict` (float image -> 8-bit RGB PIL, the processor, `get_image_features`,
  normalisation, pair softmax per label; the text embeddings are cached before timing, as in a run);
- bare: the checkpoint's processor on ready-made RGB PIL images + `get_image_features` + normalisation and the
  same similarities in torch, under `torch.inference_mode`.

The ratio adapter / bare time is the adapter's overhead. The scores of both paths are checked to agree.

    .venv/bin/python benchmarks/bench_clip.py --n 64 --batch 16
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from bench.datasets.vocabulary import CHEXPERT
from bench.models import Sample, TaskSpec, load_model
from bench.models.clip_zero_shot import to_pil_rgb
from bench.records import Record


def build_checkpoint(root: Path, side: int, width: int, layers: int) -> None:
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import CLIPConfig, CLIPModel, CLIPProcessor, PreTrainedTokenizerFast
    from transformers.models.clip import CLIPImageProcessorPil

    words = ["<pad>", "<unk>", "<s>", "</s>", "no"]
    words += [w for name in CHEXPERT for w in name.lower().split()]
    vocab = {w: i for i, w in enumerate(dict.fromkeys(words))}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.normalizer = normalizers.Lowercase()
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    backend.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", vocab["<s>"]), ("</s>", vocab["</s>"])]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>"
    )
    tower = dict(
        hidden_size=width, intermediate_size=4 * width, num_hidden_layers=layers, num_attention_heads=4
    )
    ids = dict(bos_token_id=vocab["<s>"], eos_token_id=vocab["</s>"], pad_token_id=vocab["<pad>"])
    config = CLIPConfig(
        text_config=dict(vocab_size=len(vocab), max_position_embeddings=77, **tower, **ids),
        vision_config=dict(image_size=side, patch_size=32, **tower),
        projection_dim=128,
    )
    torch.manual_seed(0)
    CLIPModel(config).save_pretrained(root)
    processor = CLIPImageProcessorPil(size={"shortest_edge": side}, crop_size={"height": side, "width": side})
    CLIPProcessor(image_processor=processor, tokenizer=tokenizer).save_pretrained(root)


def bare_scores(adapter, pil_images: list, positive: torch.Tensor, negative: torch.Tensor, batch: int):
    model, processor = adapter.model, adapter.image_processor
    out = []
    with torch.inference_mode():
        for start in range(0, len(pil_images), batch):
            pixels = processor(images=pil_images[start : start + batch], return_tensors="pt")["pixel_values"]
            features = model.get_image_features(pixel_values=pixels).pooler_output
            features = features / features.norm(dim=-1, keepdim=True)
            out.append(torch.sigmoid(features @ positive.T - features @ negative.T))
    return torch.cat(out).double().numpy()


def interleaved_best(repeats: int, **fns) -> dict[str, tuple[float, object]]:
    """Best time of each function over `repeats` rounds, the functions alternating within a round (so a busy
    machine slows both alike)."""
    best: dict[str, tuple[float, object]] = {name: (float("inf"), None) for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            result = fn()
            elapsed = time.perf_counter() - start
            if elapsed < best[name][0]:
                best[name] = (elapsed, result)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=64, help="images")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--size", type=int, default=512, help="side of the grey input images")
    parser.add_argument("--side", type=int, default=224, help="model input side")
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    rng = np.random.default_rng(0)
    images = [rng.random((args.size, args.size), dtype=np.float32) for _ in range(args.n)]
    info = {"width": args.size, "height": args.size}
    samples = [Sample(Record(id=f"img{i}", image=info), image) for i, image in enumerate(images)]
    labels = list(CHEXPERT)
    spec = TaskSpec(("classification",), labels)

    with tempfile.TemporaryDirectory(prefix="cxrbench-clip-") as tmp:
        build_checkpoint(Path(tmp), args.side, args.width, args.layers)
        adapter = load_model(f"clip:{tmp}", batch_size=args.batch)
        start = time.perf_counter()
        pos, neg = adapter.label_embeddings(tuple(labels))
        t_text = time.perf_counter() - start
        positive, negative = torch.from_numpy(pos).float(), torch.from_numpy(neg).float()
        pil_images = [to_pil_rgb(image) for image in images]

        def run_adapter():
            chunks = range(0, args.n, args.batch)
            return [r for s in chunks for r in adapter.predict(samples[s : s + args.batch], spec)]

        timed = interleaved_best(
            args.repeats,
            adapter=run_adapter,
            bare=lambda: bare_scores(adapter, pil_images, positive, negative, args.batch),
            convert=lambda: [to_pil_rgb(image) for image in images],
        )
        (t_adapter, records), (t_bare, bare), (t_convert, _) = (
            timed["adapter"],
            timed["bare"],
            timed["convert"],
        )
        ours = np.array([[r.labels[name] for name in labels] for r in records])
        gap = float(np.abs(ours - bare).max())

    print(
        f"CLIP {args.side}px/patch 32, width {args.width}, {args.layers}+{args.layers} layers; "
        f"{args.n} grey {args.size}x{args.size} images, batch {args.batch}, {len(labels)} labels, "
        f"{args.threads} threads, best of {args.repeats}"
    )
    print("| path | seconds | images/s |")
    print("|---|---|---|")
    print(f"| adapter `clip:` predict | {t_adapter:.3f} | {args.n / t_adapter:.1f} |")
    print(f"| bare processor + get_image_features | {t_bare:.3f} | {args.n / t_bare:.1f} |")
    print(f"| (float -> RGB PIL conversion alone) | {t_convert:.3f} | {args.n / t_convert:.1f} |")
    print(f"| (text embeddings, once per label set) | {t_text:.3f} | - |")
    print(f"adapter / bare time: {t_adapter / t_bare:.3f}; max |score difference| {gap:.2e}")


if __name__ == "__main__":
    main()
