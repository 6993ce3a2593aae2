"""Text tables of the stages' results (metrics, generator study, q/g calibration)."""
from __future__ import annotations

import html
import re


def table(header: list[str], rows: list[list[str]], fmt: str, caption: str) -> str:
    """`rows` of string cells under `header`, as Markdown (`md`) or LaTeX (`tex`), with a caption
    (bold in Markdown); "+-" becomes $\\pm$ in LaTeX."""
    if fmt == "md":
        lines = [f"**{caption}**", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines) + "\n"
    escape = str.maketrans({"_": r"\_", "%": r"\%", ">": r"$>$", "^": r"\^{}"})
    lines = [r"\begin{table}", rf"\caption{{{caption.translate(escape)}}}", r"\begin{tabular}{" + "l" * len(header) + "}",
             r"\hline", " & ".join(h.translate(escape) for h in header) + r" \\", r"\hline"]
    lines += [" & ".join(c.translate(escape).replace("+-", r"$\pm$") for c in r) + r" \\" for r in rows]
    lines += [r"\hline", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


PAGE_STYLE = ("body{font-family:sans-serif;font-size:14px}table{border-collapse:collapse;margin:0 0 1.5em}"
              "th,td{border:1px solid #bbb;padding:3px 8px;text-align:left}th{background:#eee}")


def html_page(markdown: str, title: str) -> str:
    """A self-contained HTML page of the Markdown that `table` writes (bold lines, pipe tables,
    paragraphs with **bold** spans): what snakemake's report shows inline, where a .md file is
    only offered for download."""
    body, rows = [], []

    def close_table() -> None:
        if rows:
            head, *rest = [row for row in rows if not re.fullmatch(r"\|(-+\|)+", row.replace(" ", ""))]
            body.append("<table><thead><tr>" + "".join(f"<th>{_inline(c)}</th>" for c in cells(head)) + "</tr></thead>"
                        + "<tbody>" + "".join("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in cells(r)) + "</tr>"
                                              for r in rest) + "</tbody></table>")
            rows.clear()

    for line in markdown.splitlines():
        if line.startswith("|"):
            rows.append(line)
            continue
        close_table()
        if line.strip():
            body.append(f"<p>{_inline(line)}</p>")
    close_table()
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{PAGE_STYLE}</style></head>\n<body>\n" + "\n".join(body) + "\n</body></html>\n")


def cells(row: str) -> list[str]:
    """The cells of one Markdown table row."""
    return [c.strip() for c in row.strip().strip("|").split("|")]


def _inline(text: str) -> str:
    return re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", html.escape(text))
