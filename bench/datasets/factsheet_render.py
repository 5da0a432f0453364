"""Render a fact sheet (bench/datasets/facts/<name>.yaml) as Markdown (docs/datasets/<name>.md)."""

from __future__ import annotations

import json
from typing import Any

from bench.datasets.factsheet import FactSheet, load_sheet


def _source_text(source: dict[str, Any]) -> str:
    title = source.get("title", "")
    if "url" in source:
        return f"[{title}]({source['url']})"
    if "repo" in source:
        where = f"github.com/{source['repo']}" + (f", `{source['path']}`" if source.get("path") else "")
        return f"{title} ({where})"
    rest = {k: v for k, v in source.items() if k != "title"}
    return f"{title} ({json.dumps(rest, ensure_ascii=False)})" if rest else title


def _value_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return "```yaml\n" + _yaml(value).rstrip() + "\n```"


def _yaml(value: Any) -> str:
    import yaml

    return yaml.safe_dump(value, sort_keys=False, allow_unicode=True, width=110)


def render(sheet: FactSheet) -> str:
    lines = [
        f"# {sheet.title}",
        "",
        f"<!-- Rendered from bench/datasets/facts/{sheet.dataset}.yaml by scripts/render_fact_sheets.py;"
        " edit the YAML, not this file. -->",
        "",
        f"cxrbench dataset name: `{sheet.dataset}`.",
        "",
        sheet.summary,
        "",
        "## Facts",
        "",
    ]
    for fact in sheet.facts.values():
        cited = ", ".join(f"[{s}]" for s in fact.sources)
        status = "" if fact.verified else " **(not verified against a source: see note)**"
        lines += [f"### `{fact.key}`{status}", "", _value_text(fact.value), "", f"Sources: {cited}"]
        if fact.note:
            lines += ["", f"Note: {fact.note}"]
        lines.append("")
    if sheet.conventions:
        lines += ["## Conventions (cxrbench's choices where published protocols differ)", ""]
        for name, item in sheet.conventions.items():
            lines.append(f"### `{name}`")
            lines.append("")
            for key, value in item.items():
                text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
                lines.append(f"- **{key}**: {text}")
            lines.append("")
    lines += ["## Sources", ""]
    for key, source in sheet.sources.items():
        lines.append(f"- [{key}] {_source_text(source)}")
    return "\n".join(lines).rstrip() + "\n"


def render_dataset(dataset: str) -> str:
    return render(load_sheet(dataset))
