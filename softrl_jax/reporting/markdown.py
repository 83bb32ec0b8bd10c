"""The comparison report as Markdown, and as one self-contained HTML page (Python-Markdown, with the
figures embedded as data URIs)."""

from __future__ import annotations

import base64
import re
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from softrl_jax.reporting.runs import Variant


def _fmt(x) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "—"
    text = f"{x:.1f}" if abs(x) >= 10 else f"{x:.3g}"
    return text.lstrip("-") if float(text) == 0 else text


def document(result: dict, variants: Sequence[Variant]) -> str:
    """report.md: curves, the Table-1 form, IQMs and the runs read."""
    metric = result["metric"]
    lines = ["# softrl-jax comparison report", "",
             f"Generated {time.strftime('%Y-%m-%d %H:%M')} from {len(result['runs'])} run folder(s); "
             f"metric `{metric}` (deterministic evaluation return). Bands and intervals: 95% bootstrap.", ""]
    lines += ["## Learning curves", ""]
    for env, png in result["curves"].items():
        lines += [f"### {env}", "", f"![{env}]({png})", ""]
    lines += ["## Best average return over training (the DSPG paper's Table-1 form)", "",
              "Per algorithm and task: the maximum over evaluation steps of the mean over seeds. "
              "*Paper*: Shi, Song & Wu 2019, Table 1 (MuJoCo gym v2, 3e6 steps, 7 seeds; the paper's SAC is "
              "SAC v1 with a V network and fixed temperature). Brax tasks differ from MuJoCo's, so read the "
              "paper column as a reference point, not a target.", "",
              "*Diverged*: seeds whose losses or parameters went non-finite; they are frozen at their last "
              "finite state, counted here and left out of every average, curve and interval.", "",
              "| task | variant | seeds | diverged | steps | best average | final (mean) | paper |",
              "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in result["table1"]:
        if not r["seeds"]:
            lines.append(f"| {r['env']} | {r['label']} | 0 | all {r['diverged']} | — | — | — | {_fmt(r['paper'])} |")
            continue
        lines.append(f"| {r['env']} | {r['label']} | {r['seeds']} | {r['diverged']} | {r['last_step']} "
                     f"| {_fmt(r['best_average'])} | {_fmt(r['final_mean'])} | {_fmt(r['paper'])} |")
    lines += ["", "## Final return: IQM with 95% stratified-bootstrap intervals (rliable)", "",
              "Final return = each seed's last evaluation. Per task on raw returns:", "",
              "| task | variant | runs | IQM | 95% CI |", "|---|---|---:|---:|---|"]
    for r in result["iqm_per_task"]:
        lines.append(f"| {r['env']} | {r['label']} | {r['runs']} | {_fmt(r['iqm'])} | [{_fmt(r['lo'])}, {_fmt(r['hi'])}] |")
    if result["iqm_across_tasks"]:
        lines += ["", "Across tasks, on scores min-max normalised per task (0 = the lowest final return in this "
                  "report on that task, 1 = the highest); only variants run on every task:", "",
                  "| variant | runs x tasks | IQM | 95% CI |", "|---|---|---:|---|"]
        for r in result["iqm_across_tasks"]:
            lines.append(f"| {r['label']} | {r['runs']} x {r['tasks']} | {r['iqm']:.3f} | [{r['lo']:.3f}, {r['hi']:.3f}] |")
    if result["iqm_png"]:
        lines += ["", f"![IQM]({result['iqm_png']})"]
    lines += ["", "## Runs read", ""]
    for v in variants:
        gone = f" ({len(v.diverged)} more diverged, left out)" if v.diverged else ""
        lines.append(f"- {v.label} on {v.env}: {len(v.seeds)} seed(s){gone} from " + ", ".join(f"`{f}`" for f in v.folders))
    return "\n".join(lines) + "\n"


STYLE = ("body{font-family:sans-serif;max-width:1000px;margin:2em auto;padding:0 1em}"
         "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
         "td:first-child,td:nth-child(2),th{text-align:left}img{max-width:100%}")


def to_html(md: str, out: Path) -> str:
    """`md` rendered by Python-Markdown (tables included), the PNGs it links from `out` embedded as data URIs."""
    import markdown as python_markdown

    body = python_markdown.markdown(md, extensions=["tables"])

    def embed(m: re.Match) -> str:
        data = base64.b64encode((out / m.group(1)).read_bytes()).decode()
        return f'src="data:image/png;base64,{data}"'

    body = re.sub(r'src="([^"]+\.png)"', embed, body)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>softrl-jax report</title>"
            f"<style>{STYLE}</style></head><body>\n{body}\n</body></html>\n")
