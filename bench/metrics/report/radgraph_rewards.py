"""RadGraph graph comparisons: F1RadGraph's three reward levels and RadCliQ-v1's `radgraph_combined`.

A graph is the `radgraph` package's annotation of one report: ``{"text": ..., "entities": {"1": {"tokens",
"label", "start_ix", "end_ix", "relations": [[relation_label, "<entity key>"], ...]}, ...}}``.

F1RadGraph (radgraph 0.1.18, `radgraph/rewards.py`, `compute_reward`) compares sets of tuples, precision over the
hypothesis set, recall over the reference set, F1 = 2PR / (P + R), 0 when P + R = 0, and 0 at every level when
either report has no entity:

- simple (`exact_entity_token_match_reward`): {(tokens, label)} of every entity;
- partial (`exact_entity_token_if_rel_exists_reward`): (tokens, label) for an entity without relations,
  (tokens, label, True) for one with at least one;
- complete (`exact_entity_token_if_all_match_reward`): (tokens, label) for an entity without relations, and for
  each relation of an entity (tokens.lower(), label, relation_label, object_tokens.lower()).

`F1RadGraph.forward` (`radgraph/radgraph.py`) scores a pair 0 at every level, without running the model, when the
hypothesis or the reference string is empty ("").

RadCliQ-v1 (rajpurkarlab/CXR-Report-Metric, `CXRMetric/radgraph_evaluate_model.py`, `parse_entity_relation`,
`compute_f1`, and `run_eval.py`, `add_radgraph_col`) uses ``radgraph_combined`` = (entity F1 + relation F1) / 2 per
report with entity set {(tokens, label)} and relation set {((tokens, label), (object tokens, object label),
relation_label)}, F1 = 0 when there is no true positive (so two empty graphs give 0), on graphs from the RadGraph
v1 model (PhysioNet radgraph 1.0.0 checkpoint, the package's "radgraph" model type).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

Graph = Mapping[str, Any]
REWARD_LEVELS = ("simple", "partial", "complete")


def _f1(hypothesis: set[Hashable], reference: set[Hashable]) -> float:
    precision = sum(1 for x in hypothesis if x in reference) / len(hypothesis) if hypothesis else 0.0
    recall = sum(1 for x in reference if x in hypothesis) / len(reference) if reference else 0.0
    return 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0


def _simple(graph: Graph) -> set[Hashable]:
    return {(e["tokens"], e["label"]) for e in graph["entities"].values()}


def _partial(graph: Graph) -> set[Hashable]:
    return {
        (e["tokens"], e["label"], True) if e["relations"] else (e["tokens"], e["label"])
        for e in graph["entities"].values()
    }


def _complete(graph: Graph) -> set[Hashable]:
    entities = graph["entities"]
    out: set[Hashable] = set()
    for e in entities.values():
        if not e["relations"]:
            out.add((e["tokens"], e["label"]))
        for relation, target in e["relations"]:
            out.add((e["tokens"].lower(), e["label"], relation, entities[target]["tokens"].lower()))
    return out


def radgraph_rewards(hypothesis: Graph, reference: Graph) -> tuple[float, float, float]:
    """(simple, partial, complete) F1RadGraph rewards of one hypothesis graph against its reference graph."""
    if not hypothesis["entities"] or not reference["entities"]:
        return 0.0, 0.0, 0.0
    return (
        _f1(_simple(hypothesis), _simple(reference)),
        _f1(_partial(hypothesis), _partial(reference)),
        _f1(_complete(hypothesis), _complete(reference)),
    )


def _relations(graph: Graph) -> set[Hashable]:
    entities = graph["entities"]
    return {
        ((e["tokens"], e["label"]), (entities[target]["tokens"], entities[target]["label"]), relation)
        for e in entities.values()
        for relation, target in e["relations"]
    }


def _compute_f1(test: set[Hashable], retrieved: set[Hashable]) -> float:
    true_positives = len(test & retrieved)
    precision = true_positives / len(retrieved) if retrieved else 0.0
    recall = true_positives / len(test) if test else 0.0
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def radgraph_combined(hypothesis: Graph, reference: Graph) -> float:
    """RadCliQ-v1's per-report `radgraph_combined`: mean of the entity and the relation F1."""
    entity_f1 = _compute_f1(_simple(reference), _simple(hypothesis))
    relation_f1 = _compute_f1(_relations(reference), _relations(hypothesis))
    return (entity_f1 + relation_f1) / 2
