"""Deterministic workflow code: the case process, its clock and its vocabulary. No I/O here."""

from workflows.practice_review import PracticeReviewWorkflow
from workflows.rapid_review import RapidReviewWorkflow

WORKFLOWS = [RapidReviewWorkflow, PracticeReviewWorkflow]
