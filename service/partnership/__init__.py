"""The partnership's business around its reviews: the action plan, the escalation log, themes, timeliness, the
working calendar's days, planning the year and its charts. No HTTP: they raise records/errors.py's refusals."""
