"""Themes' routes (the work is ``service/partnership/themes.py``'s, which the themes page calls too)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from sqlmodel import select

from records.models import CaseTheme, Document, User
from service.accounts.auth import require_roles
from service.accounts.roles import THEME_EDITORS, THEME_READERS
from service.api.access import audit, visible_case, writer
from service.api.documents import DocumentRead, read_document
from service.deps import DbSession, EngineDep, SettingsDep
from service.partnership.themes import (
    MAX_THEMES_PER_CASE,
    NewTheme,
    ThemeName,
    Themes,
    add_to_theme_list,
    issue_sheet,
    known_themes,
    theme_counts,
)

router = APIRouter(prefix="/api", tags=["themes"])
ThemeReader = Annotated[User, Depends(require_roles(*THEME_READERS))]
ThemeEditor = Annotated[User, Depends(require_roles(*THEME_EDITORS))]


@router.get("/themes", response_model=Themes)
def list_themes(request: Request, session: DbSession, user: ThemeReader,
                year: Annotated[int | None, Query(ge=2000, le=2100)] = None) -> Themes:
    """Every theme with its count per year and the reviews that raised it."""
    return theme_counts(writer(session, request), user, year)


@router.post("/themes", status_code=201, response_model=ThemeName)
def add_theme(new: NewTheme, request: Request, session: DbSession, user: ThemeEditor) -> ThemeName:
    """Add a theme to the partnership's list: refused if it repeats one (but for case, spaces or punctuation),
    and, unless ``confirmed``, if it is close to one (409 naming them: pick one of those instead)."""
    return add_to_theme_list(writer(session, request), user, new)


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
async def issue_themes_sheet(request: Request, session: DbSession, user: ThemeEditor, settings: SettingsDep,
                             engine: EngineDep,
                             year: Annotated[int | None, Query(ge=2000, le=2100)] = None) -> DocumentRead:
    """Issue a new version of the themes sheet across reviews (PDF and HTML, in the document register)."""
    document_id = await issue_sheet(writer(session, request), user, settings=settings, engine=engine, year=year)
    return read_document(session.get(Document, document_id))
