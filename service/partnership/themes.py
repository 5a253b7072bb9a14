"""Themes: the partnership's controlled list plus the ones it adds, tagged on each review, counted per year
in the themes sheet (a versioned document like any other). The API's routes and the themes page both call these
functions."""

from __future__ import annotations

import asyncio
import difflib
import re

from pydantic import BaseModel, Field, field_validator
from sqlalchemy import Engine
from sqlmodel import select

from activities.documents import DocumentActivities
from engine.documents import Letterhead, ThemesSheet, wire_context
from engine.models import DocumentRequest, Text
from engine.vocabulary import THEMES, DocumentKind
from records.audit import AuditWriter
from records.db import session_scope
from records.errors import Conflict
from records.models import Document, Theme, User
from records.read_model import theme_rows
from records.vocabulary import THEMES_SHEET_REFERENCE
from service.platform.settings import Settings

MAX_THEMES_PER_CASE = 13


class ThemeCount(BaseModel):
    theme: str
    controlled: bool
    counts: dict[int, int]
    total: int
    references: list[str]


class Themes(BaseModel):
    years: list[int]
    themes: list[ThemeCount]


class ThemeName(BaseModel):
    name: Text = Field(min_length=2, max_length=120)

    @field_validator("name")
    @classmethod
    def _normalised(cls, value: str) -> str:
        """One spacing and lower case, so "Neglect " and "neglect" are one theme; still 2 characters after."""
        value = " ".join(value.split()).lower()
        if len(value) < 2:
            raise ValueError("a theme needs at least 2 characters besides spaces")
        return value


class NewTheme(ThemeName):
    confirmed: bool = Field(False, description="Add it even though similar themes are on the list")


def known_themes(session) -> set[str]:
    return set(THEMES) | set(session.exec(select(Theme.name)))


def comparable(name: str) -> str:
    """A theme as compared for duplicates: case, spacing and punctuation left out, "&" read as "and"."""
    words = re.sub(r"[^\w\s]", " ", name.casefold().replace("&", " and ")).split()
    return " ".join(words)


def similar_themes(session, name: str) -> tuple[str | None, list[str]]:
    """The theme on the list that ``name`` repeats (the same but for case, spaces or punctuation), else the
    themes close to it (spelling, or one inside the other), closest first."""
    known = sorted(known_themes(session))
    by_form = {comparable(theme): theme for theme in known}
    wanted = comparable(name)
    if wanted in by_form:
        return by_form[wanted], []
    close = difflib.get_close_matches(wanted, list(by_form), n=3, cutoff=0.75)
    inside = [form for form in by_form if len(wanted) >= 4 and (wanted in form or form in wanted) and len(form) >= 4]
    return None, [by_form[form] for form in dict.fromkeys([*close, *inside])][:5]


def theme_counts(audit: AuditWriter, user: User, year: int | None = None) -> Themes:
    """Every theme with its count per year and the reviews that raised it (the reading is on the record)."""
    years, rows = theme_rows(audit.session, year)
    audit.write(user, "read_themes", None, {"year": year})
    return Themes(years=years, themes=[ThemeCount(**row) for row in rows])


def add_to_theme_list(audit: AuditWriter, user: User, new: NewTheme) -> ThemeName:
    """Add a theme to the partnership's list: refused if it repeats one (but for case, spaces or punctuation),
    and, unless ``confirmed``, if it is close to one (naming them: pick one of those instead)."""
    name = new.name
    same, close = similar_themes(audit.session, name)
    if same is not None:
        raise Conflict(f"The theme '{same}' is already on the list")
    if close and not new.confirmed:
        raise Conflict(f"Similar themes are on the list: {'; '.join(close)}. Use one of them, or confirm "
                       "to add this one as well")
    audit.session.add(Theme(name=name, added_by=user.id))
    audit.write(user, "add_theme", None, {"theme": name})
    return ThemeName(name=name)


async def issue_sheet(audit: AuditWriter, user: User, *, settings: Settings, engine: Engine,
                             year: int | None = None) -> int:
    """Issue a new version of the themes sheet across reviews (PDF and HTML, in the document register); returns
    the document's id."""
    audit.session.commit()
    document_request = await asyncio.to_thread(themes_sheet_request, engine, settings.rapid_review_partnership_name,
                                               user.full_name, year)
    renderer = DocumentActivities(engine, settings.document_store(), settings.rapid_review_public_url)
    document_id = await asyncio.to_thread(renderer.issue_document, document_request)
    audit.write(user, "issue_themes_sheet", None, {"document_id": document_id, "year": year})
    return document_id


def themes_sheet_request(engine: Engine, partnership: str, issued_by: str, year: int | None = None) -> DocumentRequest:
    """The themes sheet as it stands: every theme (the partnership's list first) with counts per year
    and the cases that raised it. Each issue is a new version."""
    with session_scope(engine) as session:
        years, rows = theme_rows(session, year)
        versions = session.exec(select(Document.version).where(Document.kind == DocumentKind.themes_sheet)).all()
    version = max(versions, default=0) + 1
    return DocumentRequest(
        key=f"{THEMES_SHEET_REFERENCE}:{DocumentKind.themes_sheet}:v{version}", kind=DocumentKind.themes_sheet,
        case_reference=THEMES_SHEET_REFERENCE, version=version, issued_by=issued_by,
        context=wire_context(Letterhead(partnership=partnership, reference="All reviews"),
                             ThemesSheet(years=years, rows=[r for r in rows if r["total"]], year=year)),
    )
