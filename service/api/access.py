"""Who may call which route: role aliases built from the role sets (``service/accounts/roles.py``), and, for the
routes, the request helpers they share (``service/deps.py``). Who may see which case is
``service/cases/visibility.py``'s (``visible_case``, ``may_read``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from records.models import User
from service.accounts.auth import require_roles
from service.accounts.roles import AUDITORS, CASE_ACTORS, CASE_READERS
from service.cases.case_service import actor_of  # noqa: F401 - the routes' names for the case service's checks
from service.cases.visibility import visible_case  # noqa: F401 - the routes' names for the case service's checks
from service.deps import AuditTrailDep, RowId, audit, request_id, writer  # noqa: F401 - shared by every route

Reader = Annotated[User, Depends(require_roles(*CASE_READERS))]
CaseActor = Annotated[User, Depends(require_roles(*CASE_ACTORS))]
Auditor = Annotated[User, Depends(require_roles(*AUDITORS))]
