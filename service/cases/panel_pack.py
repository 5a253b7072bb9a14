"""The panel pack: what the Rapid Review Panel reads before it meets, from the case's records.

Its research questions, each invited agency's return (status, and the three parts side by side), and one merged
chronology: every agency's chronology split into entries, each dated where it starts with a date the way people
write them ("1 October 2026", "01/10/2026", "2026-10-01"), in date order with its agency, undated entries after.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session, select

from engine.vocabulary import AGENCIES
from records.models import InformationReturn

# A date at the start of an entry: ISO, day/month/year, or day month-name year ("1 Oct 2026", "1st October 2026").
STARTING_DATE = re.compile(
    r"^\s*(?:(\d{4}-\d{2}-\d{2})|(\d{1,2})/(\d{1,2})/(\d{4})|(\d{1,2})(?:st|nd|rd|th)?\s+([A-Za-z]{3,9})\.?\s+(\d{4}))"
    r"\s*[:,.\-–—]?\s*")


@dataclass(frozen=True)
class ChronologyEntry:
    on: date | None
    agency: str
    text: str


def entry_date(line: str) -> tuple[date | None, str]:
    """The date an entry starts with (and the text after it), or None and the whole line."""
    found = STARTING_DATE.match(line)
    if not found:
        return None, line.strip()
    iso, day, month, year, word_day, word_month, word_year = found.groups()
    try:
        if iso:
            on = date.fromisoformat(iso)
        elif day:
            on = date(int(year), int(month), int(day))
        else:
            on = datetime.strptime(f"{word_day} {word_month[:3]} {word_year}", "%d %b %Y").date()
    except ValueError:
        return None, line.strip()
    return on, line[found.end():].strip() or line.strip()


def merged_chronology(returns: list[InformationReturn]) -> list[ChronologyEntry]:
    """Every agency's chronology as one: dated entries in order (agencies in their order on the day), then the
    undated ones, agency by agency."""
    entries = []
    for row in returns:
        for line in row.chronology.splitlines():
            if line.strip():
                on, text = entry_date(line)
                entries.append(ChronologyEntry(on=on, agency=AGENCIES.get(row.agency, row.agency), text=text))
    return sorted(entries, key=lambda e: (e.on is None, e.on or date.min))


def latest_returns(session: Session, reference: str, agencies: list[str]) -> list[InformationReturn]:
    """Each invited agency's latest return, in the order the agencies were invited."""
    latest = {}
    for row in session.exec(select(InformationReturn).where(InformationReturn.case_reference == reference)
                            .order_by(InformationReturn.version)):
        latest[row.agency] = row
    return [latest[a] for a in agencies if a in latest]
