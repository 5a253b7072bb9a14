"""The toy review's referral, its workflow's input and its action's model."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from engine.models import Action, Opening


class ToyReferral(BaseModel):
    """What a referrer sends to start a toy review."""

    pseudonym: str = Field(min_length=1, max_length=60, description="Never the person's name")
    summary: str = Field(min_length=1, max_length=2000)


class ToyInput(ToyReferral, Opening):
    """The referral, opened by the service."""


class ToyDecision(Action):
    """Whether the toy review goes on to learning or ends."""

    decision: Literal["learn", "end"]
    reasons: str = Field(min_length=1, max_length=2000)
