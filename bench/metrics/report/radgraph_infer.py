"""Batched RadGraph inference: reports -> graphs in the `radgraph` package's annotation format.

The reference (radgraph 0.1.18 `RadGraph.forward`) runs one report per forward pass. Here reports are sorted by
wordpiece count and a batch's transformer segments go through the transformer in one padded pass; span scoring is
batched the same way and span pairs in chunks. Each report's numbers are those of the reference's computation on
that report alone (padding is masked out), so graphs are equal up to floating-point rounding at exact ties.

Long reports: with `max_length` in the config (every published RadGraph config sets 512) the reference's AllenNLP
indexer does not truncate: it splits the wordpieces into segments of max_length - (number of special tokens),
wraps each in the special tokens, runs them separately and concatenates the wordpiece vectors (`_postprocess_output`
of `PretrainedTransformerIndexer`, `_fold_long_sequences` / `_unfold_long_sequences` of
`PretrainedTransformerEmbedder`). The same is done here and such reports are counted (`split_reports`). Without
max_length a report longer than the transformer's positions cannot be run (the reference fails): RadGraphInputError.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from bench.metrics.report.radgraph_model import RadGraphNet, enumerate_spans
from bench.metrics.report.radgraph_text import report_words, transformer_word

PAIR_CHUNK = 16384  # span pairs per relation-scorer pass: bounds memory at about 300 MB for a BERT-base model


class RadGraphInputError(ValueError):
    """A report the model cannot read (longer than the transformer with no max_length to split it)."""


@dataclass
class _Report:
    index: int
    words: list[str]
    offsets: list[tuple[int, int] | None]  # wordpiece range of each word in `content`, None for none
    content: list[int]
    segments: list[list[int]]


class Tokenizer:
    """Word -> wordpieces as AllenNLP's `PretrainedTransformerTokenizer.intra_word_tokenize`, with the special
    tokens of one sequence reverse-engineered from the tokenizer's own encoding of "a" (or "1")."""

    def __init__(self, transformer_dir: str, max_length: int | None, max_positions: int | None) -> None:
        from transformers import AutoTokenizer

        self.hf = AutoTokenizer.from_pretrained(transformer_dir, local_files_only=True)
        for dummy in ("a", "1"):
            piece = self.hf(dummy, add_special_tokens=False)["input_ids"]
            full = self.hf(dummy, add_special_tokens=True)["input_ids"]
            if piece and full.count(piece[0]) == 1:
                at = full.index(piece[0])
                self.start, self.end = full[:at], full[at + 1 :]
                break
        else:  # pragma: no cover - no tokenizer in use lacks both
            raise RadGraphInputError(f"cannot find the special tokens of the tokenizer in {transformer_dir}")
        self.max_length = max_length
        self.max_positions = max_positions
        self.pad_id = self.hf.pad_token_id if self.hf.pad_token_id is not None else 0
        self._pieces: dict[str, list[int]] = {}

    def pieces(self, word: str) -> list[int]:
        if word not in self._pieces:
            self._pieces[word] = self.hf(transformer_word(word), add_special_tokens=False)["input_ids"]
        return self._pieces[word]

    def report(self, index: int, words: list[str]) -> _Report:
        content: list[int] = []
        offsets: list[tuple[int, int] | None] = []
        for word in words:
            ids = self.pieces(word)
            offsets.append((len(content), len(content) + len(ids) - 1) if ids else None)
            content.extend(ids)
        if self.max_length is None:
            segments = [self.start + content + self.end]
        else:
            step = self.max_length - len(self.start) - len(self.end)
            segments = [self.start + content[i : i + step] + self.end for i in range(0, len(content), step)]
            segments = segments or [self.start + self.end]
        return _Report(index, words, offsets, content, segments)


def empty_graph(words: Sequence[str] = ()) -> dict[str, Any]:
    return {"text": " ".join(words), "entities": {}, "data_source": None, "data_split": "inference"}


def _graph(
    words: list[str], entities: list[tuple[int, int, str]], relations: list[tuple[int, int, int, int, str]]
) -> dict[str, Any]:
    """The package's `postprocess_reports` / `get_entity`: entities keyed "1".."n" in span order; a relation is
    kept under its subject entity when its object span is an entity too."""
    keys = {(s, e): str(k + 1) for k, (s, e, _) in enumerate(entities)}
    out = {}
    for k, (start, end, label) in enumerate(entities):
        rels = [
            [lab, keys[(s2, e2)]]
            for s1, e1, s2, e2, lab in relations
            if (s1, e1) == (start, end) and (s2, e2) in keys
        ]
        out[str(k + 1)] = {
            "tokens": " ".join(words[start : end + 1]),
            "label": label,
            "start_ix": start,
            "end_ix": end,
            "relations": rels,
        }
    return {"text": " ".join(words), "entities": out, "data_source": None, "data_split": "inference"}


class GraphExtractor:
    """Runs a `RadGraphNet` over many reports, batched, on one device."""

    def __init__(self, net: RadGraphNet, device: str = "cpu", batch_size: int = 16) -> None:
        if batch_size < 1:
            raise ValueError(f"RadGraph batch size must be at least 1, got {batch_size}")
        self.net = net.to(device)
        self.device = torch.device(device)
        self.batch_size = batch_size
        folder = net.folder
        positions = getattr(net.transformer.config, "max_position_embeddings", None)
        self.tokenizer = Tokenizer(folder.transformer, folder.max_length, positions)

    def words(self, text: str) -> list[str]:
        return report_words(text, self.net.folder.dataset)

    def is_split(self, text: str) -> bool:
        """Whether the report is run as more than one transformer segment (longer than max_length)."""
        words = self.words(text)
        return bool(words) and len(self.tokenizer.report(-1, words).segments) > 1

    def __call__(
        self,
        texts: Sequence[str],
        names: Sequence[str] | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> list[dict[str, Any]]:
        """One graph per text (in order); `names` label reports in errors; `progress(k)` after k more reports."""
        graphs: list[dict[str, Any] | None] = [None] * len(texts)
        reports = []
        for i, text in enumerate(texts):
            words = self.words(text)
            if not words:
                graphs[i] = empty_graph()
                continue
            report = self.tokenizer.report(i, words)
            longest = max(len(s) for s in report.segments)
            if self.tokenizer.max_positions is not None and longest > self.tokenizer.max_positions:
                name = names[i] if names is not None else f"#{i + 1}"
                raise RadGraphInputError(
                    f"report {name}: {longest} wordpieces, more than the transformer's "
                    f"{self.tokenizer.max_positions} positions, and the RadGraph config sets no max_length to split it"
                )
            reports.append(report)
        if progress is not None and len(reports) < len(texts):
            progress(len(texts) - len(reports))
        reports.sort(key=lambda r: -len(r.content))
        with torch.inference_mode():
            for start in range(0, len(reports), self.batch_size):
                batch = reports[start : start + self.batch_size]
                for report, graph in zip(batch, self._batch(batch), strict=True):
                    graphs[report.index] = graph
                if progress is not None:
                    progress(len(batch))
        return [g if g is not None else empty_graph() for g in graphs]

    def _word_vectors(self, batch: list[_Report]) -> list[torch.Tensor]:
        segments = [s for r in batch for s in r.segments]
        width = max(len(s) for s in segments)
        ids = torch.full((len(segments), width), self.tokenizer.pad_id, dtype=torch.long)
        mask = torch.zeros((len(segments), width), dtype=torch.long)
        for row, seg in enumerate(segments):
            ids[row, : len(seg)] = torch.tensor(seg)
            mask[row, : len(seg)] = 1
        hidden = self.net.transformer(input_ids=ids.to(self.device), attention_mask=mask.to(self.device))[0]
        n_start, n_end = len(self.tokenizer.start), len(self.tokenizer.end)
        out, row = [], 0
        for report in batch:
            pieces = torch.cat(
                [hidden[row + k, n_start : len(s) - n_end] for k, s in enumerate(report.segments)]
            )
            row += len(report.segments)
            widest = max((e - s + 1 for s, e in filter(None, report.offsets)), default=1)
            index = torch.zeros((len(report.words), widest), dtype=torch.long)
            valid = torch.zeros((len(report.words), widest), dtype=torch.bool)
            for w, span in enumerate(report.offsets):
                if span is not None:
                    index[w, : span[1] - span[0] + 1] = torch.arange(span[0], span[1] + 1)
                    valid[w, : span[1] - span[0] + 1] = True
            index, valid = index.to(self.device), valid.to(self.device).unsqueeze(-1)
            summed = (pieces[index] * valid).sum(1)
            out.append(summed / torch.clamp_min(valid.sum(1), 1))
        return out

    def _batch(self, batch: list[_Report]) -> list[dict[str, Any]]:
        net, folder = self.net, self.net.folder
        vectors = self._word_vectors(batch)
        spans = [enumerate_spans(len(r.words), folder.max_span_width) for r in batch]
        n_spans = max(len(s) for s in spans)
        dim = 2 * vectors[0].shape[1] + folder.feature_size
        span_vectors = torch.zeros((len(batch), n_spans, dim), device=self.device)
        span_mask = torch.zeros((len(batch), n_spans), dtype=torch.bool, device=self.device)
        for b, (words, report_spans) in enumerate(zip(vectors, spans, strict=True)):
            starts = torch.tensor([s for s, _ in report_spans], device=self.device)
            ends = torch.tensor([e for _, e in report_spans], device=self.device)
            span_vectors[b, : len(report_spans)] = torch.cat(
                [words[starts], words[ends], net.width_embedding(ends - starts)], -1
            )
            span_mask[b, : len(report_spans)] = True
        ner_scores = net.ner_scorer(net.ner_feedforward(span_vectors))
        ner_scores = ner_scores.masked_fill(~span_mask.unsqueeze(-1), -1e20)
        ner_scores = torch.cat([ner_scores.new_zeros(*ner_scores.shape[:2], 1), ner_scores], -1).cpu()
        mention = net.mention_scorer(net.mention_feedforward(span_vectors))
        mention = mention.masked_fill(~span_mask.unsqueeze(-1), -1e20)

        entities: list[list[tuple[int, int, str]]] = []
        tops = []
        for b, report in enumerate(batch):
            _, labels = ner_scores[b, : len(spans[b])].max(dim=1)
            entities.append(
                [
                    (*spans[b][k], folder.entity_labels[lab])
                    for k, lab in enumerate(labels.tolist())
                    if lab != 0
                ]
            )
            keep = net.mention_count(len(report.words))
            _, top = mention[b, : len(spans[b])].topk(keep, 0)
            top, _ = torch.sort(top.squeeze(-1), 0)
            tops.append((top, span_vectors[b, top], mention[b, top]))
        relations = self._relations(tops, spans)
        return [_graph(r.words, e, rel) for r, e, rel in zip(batch, entities, relations, strict=True)]

    def _relations(
        self, tops: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]], spans: list[list[tuple[int, int]]]
    ) -> list[list[tuple[int, int, int, int, str]]]:
        """Relation predictions per report, (start1, end1, start2, end2, label) in row-major pair order. Span pairs
        ([a, b, a*b], DyGIE's `_compute_span_pair_embeddings`) are scored in row blocks of at most PAIR_CHUNK pairs
        across reports, so memory stays bounded however long a report is."""
        net = self.net
        blocks = []  # (report, first row, end row)
        for b, (top, _, _) in enumerate(tops):
            k = top.shape[0]
            rows = max(1, PAIR_CHUNK // k)
            blocks += [(b, i, min(k, i + rows)) for i in range(0, k, rows)]
        scored: dict[int, list[torch.Tensor]] = {b: [] for b in range(len(tops))}
        group: list[tuple[int, int, int]] = []

        def run() -> None:
            pairs = []
            for b, i0, i1 in group:
                emb = tops[b][1]
                k, rows = emb.shape[0], i1 - i0
                first = emb[i0:i1].unsqueeze(1)
                pairs.append(
                    torch.cat(
                        [
                            first.repeat(1, k, 1),
                            emb.unsqueeze(0).repeat(rows, 1, 1),
                            first * emb.unsqueeze(0),
                        ],
                        -1,
                    ).view(rows * k, -1)
                )
            scores = net.relation_scorer(net.relation_feedforward(torch.cat(pairs)))
            at = 0
            for b, i0, i1 in group:
                n = (i1 - i0) * tops[b][1].shape[0]
                scored[b].append(scores[at : at + n])
                at += n
            group.clear()

        size = 0
        for block in blocks:
            n = (block[2] - block[1]) * tops[block[0]][1].shape[0]
            if group and size + n > PAIR_CHUNK:
                run()
                size = 0
            group.append(block)
            size += n
        if group:
            run()
        return [self._decode(tops[b], spans[b], torch.cat(scored[b])) for b in range(len(tops))]

    def _decode(
        self,
        top_spans: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
        spans: list[tuple[int, int]],
        flat: torch.Tensor,
    ) -> list[tuple[int, int, int, int, str]]:
        """DyGIE's `_compute_relation_scores` tail and `_predict_sentence`: add both mention scores, a 0 null
        score first, argmax, label - 1 (null -> -1), every pair with a label in row-major order."""
        top, _, mention = top_spans
        k = top.shape[0]
        scores = flat.view(k, k, -1) + (mention.unsqueeze(1) + mention.unsqueeze(0))
        scores = torch.cat([scores.new_zeros(k, k, 1), scores], -1).cpu()
        _, predicted = scores.max(dim=-1)
        predicted -= 1
        chosen = [spans[i] for i in top.tolist()]
        labels = self.net.folder.relation_labels
        return [
            (*chosen[i], *chosen[j], labels[int(predicted[i, j].item())])
            for i, j in (predicted >= 0).nonzero().tolist()
        ]
