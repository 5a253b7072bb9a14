"""CSV downloads, written one way: every text cell safe to open in Excel.

A cell that begins with = + - @ (or a tab or carriage return) is read by spreadsheet programs as a
formula (`=HYPERLINK(...)`, `+cmd|...`): anyone who can type into a field would run it on the reader's
machine. Such text cells get a leading apostrophe, which spreadsheets show as plain text (OWASP's advice).
Numbers stay numbers.
"""

from __future__ import annotations

import csv
import io

from fastapi.responses import Response

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_response(rows: list[dict], columns: list[str], filename: str) -> Response:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({name: safe_cell(value) for name, value in row.items()})
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
