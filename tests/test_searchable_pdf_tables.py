"""Searchable PDF tables (and other stretched lines) read row by row: `pdftotext` in its default (reading
order) mode and pdfminer.six's `extract_text` take every table row as one line, in order, never a row's cells
mixed with the next row's. CI installs poppler-utils (.ci/run); elsewhere the pdftotext checks skip without it.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from pdfminer.high_level import extract_text

import engine
from engine.outputs import searchable_pdf as sp
from test_searchable_pdf import MATH, page_image, result_from_raw

ROWS = [["Year", "Q1", "Q2", "Q3", "Q4"],  # a typical table: short cells spread across a wide box
        ["2021", "12", "15", "9", "20"],
        ["2022", "14", "", "11", "23.5"],
        ["2023 (est.)", "18", "19", "15", "25"],
        ["Sum", "44", "34", "35", "68.5"]]
TABLE = ("<|ref|>table<|/ref|><|det|>[[100, 150, 900, 260]]<|/det|>\n<table>"
         + "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in ROWS) + "</table>\n\n"
         "<|ref|>text<|/ref|><|det|>[[100, 300, 900, 330]]<|/det|>\nAfter the table.\n")
ROW_LINES = [" ".join(c for c in row if c) for row in ROWS]


def pdftotext(path) -> list[str]:
    """The page's text as `pdftotext` reads it in its default mode: non-empty lines."""
    if shutil.which("pdftotext") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("pdftotext is missing: .ci/run installs poppler-utils")
        pytest.skip("pdftotext (poppler-utils) is not installed")
    out = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return [line.strip() for line in out.splitlines() if line.strip()]


def pdfminer_lines(path) -> list[str]:
    return [line.strip() for line in extract_text(str(path)).splitlines() if line.strip()]


@pytest.fixture()
def table_pdf(tmp_path):
    result = result_from_raw(TABLE, page_image(tmp_path))
    return engine.export_result(result, tmp_path / "out", "table", "pdf")[0]


def test_pdftotext_reads_a_table_row_by_row(table_pdf):
    assert pdftotext(table_pdf) == [*ROW_LINES, "After the table."]


def test_pdfminer_reads_a_table_row_by_row(table_pdf):
    assert pdfminer_lines(table_pdf) == [*ROW_LINES, "After the table."]


def _follows(lines: list[str], want: list[str]) -> bool:
    """`want` appears in `lines` as consecutive lines."""
    return any(lines[i:i + len(want)] == want for i in range(len(lines)))


@pytest.mark.parametrize("reader", ["pdftotext", "pdfminer"])
def test_real_page_tables_and_equations_read_in_order(tmp_path, reader):
    """The real DeepSeek-OCR page (tests/data/searchable_pdf/math_tables_de.raw.md): three two-row tables
    across wide boxes and one-line equations, each row and each equation one line."""
    pdf = engine.export_result(result_from_raw(MATH, page_image(tmp_path)), tmp_path, "math", "pdf")[0]
    lines = pdftotext(pdf) if reader == "pdftotext" else pdfminer_lines(pdf)
    for rows in (["xi -1 0 1 2 3", "f(xi) 0,1 0,3 0,4 0,15 0,05"],
                 ["xi -2 -1 0 1 4 5 10", "f(xi) 1/12 2/12 2/12 3/12 2/12 1/12 1/12"],
                 ["xi -2 -1 1 2", "f(xi) 1/8 3/8 1/4 1/4"],
                 ["a) \\quad E(X) = -0,1 + 0 + 0,4 + 0,3 + 0,15 = 0,75"]):
        assert _follows(lines, rows), (rows, lines)


def test_stretched_lines_keep_their_spaces_narrow():
    # a short row across a wide box: the characters are stretched, the spaces stay half an em wide
    scale, kern = sp.line_scale("xi -1 0 1 2 3", width=400.0, size=10.0)
    spaces, others = 5, 8
    space_w = (sp.HALF_EM - kern) / 1000 * 10.0 * scale / 100
    assert space_w == pytest.approx(5.0)  # half an em of a 10 pt font
    assert others * sp.HALF_EM / 1000 * 10.0 * scale / 100 + spaces * space_w == pytest.approx(400.0)
    # a line that needs no stretching is drawn as it is, spaces included
    scale, kern = sp.line_scale("a b", width=10.0, size=10.0)
    assert kern == 0 and scale == pytest.approx(100 * 10.0 / 15.0)
