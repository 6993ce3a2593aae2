"""Text tables of the stages' results (metrics, generator study, q/g calibration)."""
from __future__ import annotations


def table(header: list[str], rows: list[list[str]], fmt: str, caption: str) -> str:
    """`rows` of string cells under `header`, as Markdown (`md`) or LaTeX (`tex`), with a caption
    (bold in Markdown); "+-" becomes $\\pm$ in LaTeX."""
    if fmt == "md":
        lines = [f"**{caption}**", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines) + "\n"
    escape = str.maketrans({"_": r"\_", "%": r"\%", ">": r"$>$"})
    lines = [r"\begin{table}", rf"\caption{{{caption.translate(escape)}}}", r"\begin{tabular}{" + "l" * len(header) + "}",
             r"\hline", " & ".join(h.translate(escape) for h in header) + r" \\", r"\hline"]
    lines += [" & ".join(c.translate(escape).replace("+-", r"$\pm$") for c in r) + r" \\" for r in rows]
    lines += [r"\hline", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"
