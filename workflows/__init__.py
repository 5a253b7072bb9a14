"""Deterministic workflow code: the case process, its clock and its vocabulary. No I/O here."""

from workflows.rapid_review import RapidReviewWorkflow

WORKFLOWS = [RapidReviewWorkflow]
