"""Markdown and self-contained HTML reports rendered from the analysis dict (figures as base64 PNG)."""

from __future__ import annotations

import html
from typing import Any

from readerstudy.analysis.plots import forest_plot, stacked_preference_bars

Block = tuple[str, Any]


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f} %"


def _num(x: float | None, digits: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def _ci(ci: list[float] | None, pct: bool = False) -> str:
    if not ci:
        return "n/a"
    fmt = _pct if pct else _num
    return f"[{fmt(ci[0])}, {fmt(ci[1])}]"


def _forest_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    net = result["net_preference"]
    rows = [{"label": "overall (RRRC)", "value": net["value"], "ci95": net["ci95_rrrc"], "kind": "overall"}]
    rows.append(
        {"label": "overall (FRRC)", "value": net["value"], "ci95": net["ci95_frrc"], "kind": "overall"}
    )
    for site, block in result["per_site"].items():
        np_ = block["net_preference"]
        rows.append(
            {"label": f"{site} (RRRC)", "value": np_["value"], "ci95": np_["ci95_rrrc"], "kind": "site"}
        )
    for reader, block in result["per_reader"].items():
        np_ = block["net_preference"]
        rows.append({"label": reader, "value": np_["value"], "ci95": np_["ci95"], "kind": "reader"})
    return rows


def _bar_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    def share(label: str, block: dict[str, Any]) -> dict[str, Any]:
        return {"label": label, "better": block["better"], "equal": block["equal"], "worse": block["worse"]}

    rows = [
        {
            "label": "overall",
            "better": result["better"]["value"],
            "equal": result["equal"]["value"],
            "worse": result["worse"]["value"],
        }
    ]
    rows += [share(site, block) for site, block in result["per_site"].items()]
    rows += [share(k, block) for k, block in result["per_normal_abnormal"].items()]
    rows += [share(reader, block) for reader, block in result["per_reader"].items()]
    return rows


def build_blocks(result: dict[str, Any]) -> list[Block]:
    """The report as a list of (kind, payload) blocks shared by the Markdown and HTML renderers."""
    net, eob = result["net_preference"], result["equal_or_better"]
    ni = result["non_inferior"]
    verdict = "undetermined" if ni is None else ("non-inferior" if ni else "non-inferiority not shown")
    blocks: list[Block] = [
        ("h1", "Reader study analysis: AI vs original report"),
        (
            "p",
            f"Primary criterion: **{result['criterion']}**; {result['n_readers']} readers x "
            f"{result['n_cases']} cases ({result['n_reads']} reads).",
        ),
        ("h2", "Primary endpoint"),
        (
            "table",
            [
                [
                    "endpoint",
                    "value",
                    "95 % CI FRRC",
                    "95 % CI RRRC (Hillis df)",
                    "95 % CI two-way bootstrap",
                ],
                [
                    "net preference",
                    _num(net["value"]),
                    _ci(net["ci95_frrc"]),
                    _ci(net["ci95_rrrc"]),
                    _ci(net["ci95_bootstrap"]),
                ],
                [
                    "equal-or-better",
                    _pct(eob["value"]),
                    _ci(eob["ci95_frrc"], True),
                    _ci(eob["ci95_rrrc"], True),
                    _ci(eob["ci95_bootstrap"], True),
                ],
                [
                    "AI better",
                    _pct(result["better"]["value"]),
                    _ci(result["better"]["ci95_frrc"], True),
                    _ci(result["better"]["ci95_rrrc"], True),
                    _ci(result["better"]["ci95_bootstrap"], True),
                ],
                [
                    "equal",
                    _pct(result["equal"]["value"]),
                    _ci(result["equal"]["ci95_frrc"], True),
                    _ci(result["equal"]["ci95_rrrc"], True),
                    _ci(result["equal"]["ci95_bootstrap"], True),
                ],
                [
                    "AI worse",
                    _pct(result["worse"]["value"]),
                    _ci(result["worse"]["ci95_frrc"], True),
                    _ci(result["worse"]["ci95_rrrc"], True),
                    _ci(result["worse"]["ci95_bootstrap"], True),
                ],
            ],
        ),
        (
            "p",
            f"Non-inferiority margin {result['margin']:g}: **{verdict}** (basis {net.get('basis')}, one-sided "
            f"p = {_num(net.get('p_value_one_sided'), 4)}). Equal-or-better would be "
            f"{_pct(eob.get('null_value_if_no_difference'))} under no difference at the observed tie rate. "
            f"{eob['note']}",
        ),
        ("img", (forest_plot(_forest_rows(result), result["margin"], "Net preference"), "forest plot")),
        ("img", (stacked_preference_bars(_bar_rows(result), "Preference shares"), "stacked preference bars")),
        ("h2", "Per reader"),
        (
            "table",
            [
                [
                    "reader",
                    "cases",
                    "net preference [95 % CI]",
                    "equal-or-better [95 % CI]",
                    "better / equal / worse",
                ]
            ]
            + [
                [
                    r,
                    str(b["n_cases"]),
                    f"{_num(b['net_preference']['value'])} {_ci(b['net_preference']['ci95'])}",
                    f"{_pct(b['equal_or_better']['value'])} {_ci(b['equal_or_better']['ci95'], True)}",
                    f"{_pct(b['better'])} / {_pct(b['equal'])} / {_pct(b['worse'])}",
                ]
                for r, b in result["per_reader"].items()
            ],
        ),
    ]
    for title, key in (("Per site", "per_site"), ("Normal vs abnormal cases", "per_normal_abnormal")):
        if not result[key]:
            continue
        blocks.append(("h2", title))
        blocks.append(
            (
                "table",
                [["group", "cases", "net preference", "CI FRRC", "CI RRRC", "equal-or-better", "CI RRRC"]]
                + [
                    [
                        g,
                        str(b["n_cases"]),
                        _num(b["net_preference"]["value"]),
                        _ci(b["net_preference"]["ci95_frrc"]),
                        _ci(b["net_preference"]["ci95_rrrc"]),
                        _pct(b["equal_or_better"]["value"]),
                        _ci(b["equal_or_better"]["ci95_rrrc"], True),
                    ]
                    for g, b in result[key].items()
                ],
            )
        )
    blocks += _agreement_blocks(result)
    blocks += _bias_blocks(result)
    blocks += _blinding_audit_blocks(result)
    blocks.append(("h2", "Methods"))
    blocks += [("p", para) for para in result["methods"].split("\n")]
    if result["notes"]:
        blocks.append(("h2", "Notes"))
        blocks += [("p", note) for note in result["notes"]]
    return blocks


def _agreement_blocks(result: dict[str, Any]) -> list[Block]:
    agr = result["agreement"]
    rows = [["statistic", "value", "package", "weighting"]]
    for key, label in (
        ("fleiss_kappa", "Fleiss' kappa"),
        ("krippendorff_alpha_ordinal", "Krippendorff's alpha"),
        ("gwet_ac1", "Gwet's AC1"),
    ):
        rows.append([label, _num(agr[key]["value"]), agr[key]["package"], agr[key]["weighting"]])
    pa = agr["percent_agreement"]
    rows.append(["pairwise % agreement", _pct(pa["pairwise"]), pa["package"], pa["weighting"]])
    rows.append(["all readers agree", _pct(pa["all_readers_agree"]), pa["package"], pa["weighting"]])
    kw = agr["kendall_w"]
    rows.append(
        ["Kendall's W (preference)", _num(kw["preference_vs_ai"]["value"]), kw["package"], kw["weighting"]]
    )
    pw = agr["pairwise_weighted_kappa"]
    for pair in pw["pairs"]:
        rows.append(
            [
                f"Cohen's kappa {pair['reader_a']} vs {pair['reader_b']}",
                _num(pair["value"]),
                pw["package"],
                pw["weighting"],
            ]
        )
    icc = agr["icc_likert"]
    for source in ("likert_ai", "likert_original"):
        block = icc[source]
        if block:
            rows.append(
                [
                    f"ICC2 {source}",
                    f"{_num(block['ICC2']['value'])} {_ci(block['ICC2']['ci95'])}",
                    icc["package"],
                    icc["weighting"],
                ]
            )
    marg = pa["marginals"]
    text = "Marginals over all reads (AI worse / equal / better): " + " / ".join(
        _pct(marg[k]) for k in ("-1", "0", "1")
    )
    return [("h2", "Inter-reader agreement"), ("table", rows), ("p", text)]


def _bias_blocks(result: dict[str, Any]) -> list[Block]:
    pb, bc = result["position_bias"], result["blinding_check"]
    return [
        ("h2", "Position bias and blinding"),
        (
            "p",
            f"Left report (A) chosen in {_pct(pb['proportion'])} of {pb['n']} non-tied choices "
            f"{_ci(pb['ci95'], True)}, exact binomial p = {_num(pb['p_value'], 4)}.",
        ),
        (
            "p",
            f"Blinding check: the AI report was identified in {_pct(bc['accuracy'])} of {bc['n_answered']} "
            f"answered guesses {_ci(bc['ci95'], True)}, exact binomial p = {_num(bc['p_value'], 4)} "
            f"(about 50 % means blinding held).",
        ),
    ]


def _blinding_audit_blocks(result: dict[str, Any]) -> list[Block]:
    """The build's text-classifier audit: could the AI report be told from the original by its text alone?"""
    audit = result.get("blinding_audit")
    if not audit:
        return [("h2", "Blinding audit"), ("p", "No blinding audit was recorded when this study was built.")]
    if audit["status"] == "skipped":
        return [("h2", "Blinding audit"), ("p", f"Blinding audit skipped: {audit['reason']}.")]
    verdict = {
        "passed": "passed: not clearly distinguishable",
        "distinguishable": "**distinguishable**: the texts carry a cue to their source",
    }[audit["status"]]
    override = " The study was built anyway (--allow-distinguishable)." if audit.get("override") else ""
    return [
        ("h2", "Blinding audit"),
        (
            "p",
            f"Before the study was built, a text classifier tried to tell the AI report from the original after "
            f"harmonisation: AUC {_num(audit['auc'])} {_ci(audit['ci95'])} over {audit['n_cases']} cases "
            f"(0.5 = indistinguishable; the build stops when the CI's lower bound exceeds "
            f"{audit['threshold_ci_lower']}): {verdict}.{override} Method: {audit['method']}.",
        ),
    ]


def render_markdown(result: dict[str, Any], blocks: list[Block] | None = None) -> str:
    """Markdown report; figures are inline data-URI PNGs. Pass `blocks` to reuse rendered figures."""
    lines: list[str] = []
    for kind, payload in blocks if blocks is not None else build_blocks(result):
        if kind == "h1":
            lines += [f"# {payload}", ""]
        elif kind == "h2":
            lines += [f"## {payload}", ""]
        elif kind == "p":
            lines += [payload, ""]
        elif kind == "table":
            header, *body = payload
            lines.append("| " + " | ".join(header) + " |")
            lines.append("|" + "---|" * len(header))
            lines += ["| " + " | ".join(str(c).replace("|", "/") for c in row) + " |" for row in body]
            lines.append("")
        elif kind == "img":
            data, alt = payload
            lines += [f"![{alt}](data:image/png;base64,{data})", ""]
    return "\n".join(lines)


def _inline(text: str) -> str:
    parts = html.escape(text).split("**")
    return "".join(f"<strong>{p}</strong>" if i % 2 else p for i, p in enumerate(parts))


def render_html(result: dict[str, Any], blocks: list[Block] | None = None) -> str:
    """Self-contained HTML report (inline CSS, base64 PNG figures)."""
    body: list[str] = []
    for kind, payload in blocks if blocks is not None else build_blocks(result):
        if kind in ("h1", "h2"):
            body.append(f"<{kind}>{html.escape(payload)}</{kind}>")
        elif kind == "p":
            body.append(f"<p>{_inline(payload)}</p>")
        elif kind == "table":
            header, *rows = payload
            head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
            cells = "".join(
                "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
            )
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{cells}</tbody></table>")
        elif kind == "img":
            data, alt = payload
            body.append(f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">')
    style = (
        "body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;color:#222}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;font-size:13px}"
        "th{background:#f3f3f3}img{max-width:100%}"
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Reader study analysis</title>'
        f"<style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )
