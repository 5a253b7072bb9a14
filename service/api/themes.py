"""Themes: the partnership's controlled list plus the ones it adds, tagged on each review, counted per year
in the themes sheet (a versioned document like any other)."""

from __future__ import annotations

import asyncio
import difflib
import re
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field, field_validator
from sqlmodel import select

from activities.documents import DocumentActivities, themes_sheet_request
from activities.read_model import theme_rows
from service.api.access import audit, visible_case
from service.api.documents import DocumentRead, read_document
from service.auth import DbSession, require_roles
from service.models import CaseTheme, Document, Theme, User
from workflows.models import Text
from workflows.vocabulary import THEMES, Role

router = APIRouter(prefix="/api", tags=["themes"])
# Counts across reviews name other cases: not for agency members, who see only their own cases.
ThemeReader = Annotated[User, Depends(require_roles(Role.business_unit, Role.panel_chair, Role.csc_lead,
                                                    Role.executive, Role.auditor))]
ThemeEditor = Annotated[User, Depends(require_roles(Role.business_unit, Role.panel_chair))]
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


@router.get("/themes", response_model=Themes)
def list_themes(request: Request, session: DbSession, user: ThemeReader,
                year: Annotated[int | None, Query(ge=2000, le=2100)] = None) -> Themes:
    """Every theme with its count per year and the reviews that raised it."""
    years, rows = theme_rows(session, year)
    audit(session, request, user, "read_themes", None, {"year": year})
    return Themes(years=years, themes=[ThemeCount(**row) for row in rows])


@router.post("/themes", status_code=201, response_model=ThemeName)
def add_theme(new: NewTheme, request: Request, session: DbSession, user: ThemeEditor) -> ThemeName:
    """Add a theme to the partnership's list: refused if it repeats one (but for case, spaces or punctuation),
    and, unless ``confirmed``, if it is close to one (409 naming them: pick one of those instead)."""
    name = new.name
    same, close = similar_themes(session, name)
    if same is not None:
        raise HTTPException(409, f"The theme '{same}' is already on the list")
    if close and not new.confirmed:
        raise HTTPException(409, f"Similar themes are on the list: {'; '.join(close)}. Use one of them, or confirm "
                                 "to add this one as well")
    session.add(Theme(name=name, added_by=user.id))
    audit(session, request, user, "add_theme", None, {"theme": name})
    return ThemeName(name=name)


@router.post("/cases/{reference}/themes", status_code=201)
def tag_case(reference: str, tag: ThemeName, request: Request, session: DbSession, user: ThemeEditor) -> dict:
    """Tag a review with a theme from the list."""
    visible_case(session, user, reference)
    name = " ".join(tag.name.split()).lower()
    if name not in known_themes(session):
        raise HTTPException(422, f"{name!r} is not on the themes list; add it to the list first")
    tagged = set(session.exec(select(CaseTheme.theme).where(CaseTheme.case_reference == reference)))
    if name not in tagged:
        if len(tagged) >= MAX_THEMES_PER_CASE:
            raise HTTPException(422, f"A review has at most {MAX_THEMES_PER_CASE} themes")
        session.add(CaseTheme(case_reference=reference, theme=name))
        audit(session, request, user, "tag_theme", reference, {"theme": name})
    return {"reference": reference, "themes": sorted(tagged | {name})}


@router.delete("/cases/{reference}/themes/{theme}")
def untag_case(reference: str, theme: str, request: Request, session: DbSession, user: ThemeEditor) -> dict:
    """Remove a theme from a review."""
    visible_case(session, user, reference)
    row = session.get(CaseTheme, (reference, theme))
    if row is None:
        raise HTTPException(404, f"{reference} is not tagged with {theme!r}")
    session.delete(row)
    audit(session, request, user, "untag_theme", reference, {"theme": theme})
    left = session.exec(select(CaseTheme.theme).where(CaseTheme.case_reference == reference)).all()
    return {"reference": reference, "themes": sorted(left)}


@router.post("/themes/sheet", status_code=201, response_model=DocumentRead)
async def issue_themes_sheet(request: Request, session: DbSession, user: ThemeEditor,
                             year: Annotated[int | None, Query(ge=2000, le=2100)] = None) -> DocumentRead:
    """Issue a new version of the themes sheet across reviews (PDF and HTML, in the document register)."""
    settings = request.app.state.settings
    engine = request.app.state.engine
    session.commit()
    document_request = await asyncio.to_thread(themes_sheet_request, engine, settings.rapid_review_partnership_name,
                                               user.full_name, year)
    renderer = DocumentActivities(engine, settings.document_dir, settings.rapid_review_public_url)
    document_id = await asyncio.to_thread(renderer.issue_document, document_request)
    audit(session, request, user, "issue_themes_sheet", None, {"document_id": document_id, "year": year})
    return read_document(session.get(Document, document_id))
