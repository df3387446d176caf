"""Why a participant or a study cannot go on: raised by the services, translated into pages by the views."""
from __future__ import annotations

from django.core.exceptions import ValidationError


class StudyUnavailable(Exception):
    """The study cannot take a new participant now; `reason` is one of draft, paused, closed, full."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class ParticipantFinished(ValidationError):
    """A participant who has completed (or declined, or returned) tries to change answers."""


class PageOutOfDate(ValidationError):
    """Answers sent for a page the participant has already left (another tab, a stale page)."""


class StimulusTooEarly(ValidationError):
    """The stimulus page was submitted before its minimum viewing time; the answers given were saved.

    ``seconds_left`` says how long the participant still has to look at the stimulus.
    """

    def __init__(self, *, minimum: int, seconds_left: int):
        super().__init__({"page": (
            f"Your answers are saved. Please study the images for at least {minimum} seconds before you go "
            f"on: {seconds_left} s left."
        )})
        self.seconds_left = seconds_left
