"""The activities the case workflows call, as the workflows see them: each one's name and types, nothing else.

Workflows call them by reference (``workflow.execute_activity_method(CaseSteps.apply_case_step, ...)``), so the
call is typed and walkable without importing the implementations (activities/, which touch the database and
files) into workflow code. Each implementation subclasses its interface and keeps the name: the names are in
every stored history and must never change.
"""

from __future__ import annotations

from temporalio import activity

from engine.models import CalendarRequest, CaseCalendar, CaseStep, DocumentRequest


class CaseSteps:
    @activity.defn(name="apply_case_step")
    async def apply_case_step(self, step: CaseStep) -> bool:
        """Apply every side effect of one step in one transaction, once (activities/case_step.py)."""
        raise NotImplementedError


class Documents:
    @activity.defn(name="issue_document")
    def issue_document(self, request: DocumentRequest) -> int:
        """Render and register one document version (activities/documents.py)."""
        raise NotImplementedError


class WorkingCalendars:
    @activity.defn(name="working_calendar")
    async def working_calendar(self, request: CalendarRequest) -> CaseCalendar:
        """The bank holidays and closure days of a span (activities/working_calendar.py)."""
        raise NotImplementedError
