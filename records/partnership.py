"""The partnership's process rules as the database keeps them: what a new case is started with (a running case
keeps the rules it started with, so a change here never moves it)."""

from __future__ import annotations

import json

from sqlmodel import Session, select

from records.models import Partnership
from reviews.rapid_review.process_rules import ProcessRules


def process_rules(session: Session) -> ProcessRules:
    partnership = session.exec(select(Partnership)).first()
    return ProcessRules.model_validate(json.loads(partnership.rules_json)) if partnership else ProcessRules()
