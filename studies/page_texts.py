"""What the participant pages say in the platform's voice: headings, button texts, the completion message.

A study may replace any of them (Study.page_texts) and a condition may replace them again for its own
participants (Condition.page_texts); a text left out keeps the default below. A control condition that sees
no explanation (Condition.shows_explanation unticked) gets defaults that never mention one, unless the
researcher writes a text that does.
"""
from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

#: key -> (what it is, default text). The defaults are the platform's texts from before they were editable.
PAGE_TEXTS: dict[str, tuple[str, str]] = {
    "consent_heading": ("Heading of the consent page", "Consent"),
    "consent_agree_button": ("Button agreeing to take part", "I agree and want to take part"),
    "consent_decline_button": ("Button declining", "I do not agree"),
    "instructions_heading": ("Heading of the instructions page", "Instructions"),
    "stimulus_heading": ("Heading of the stimulus page", "Study the images"),
    "satisfaction_heading": ("Heading of the satisfaction page", "About the explanation"),
    "free_text_heading": ("Heading of the free-text page", "Your comments"),
    "continue_button": ("Button to the next page", "Continue"),
    "back_button": ("Button to the previous page", "Back"),
    "finish_button": ("Button on the last question page", "Finish"),
    "completion_heading": ("Heading of the last page", "Thank you!"),
    "completion_message": ("Message on the last page", "Your answers have been recorded. You can close this "
                                                       "window now."),
}

#: Defaults for a condition that shows no explanation (a control group).
WITHOUT_EXPLANATION: dict[str, str] = {
    "satisfaction_heading": "A few more questions",
}

MAX_LENGTH = 2000


def page_texts_errors(value: Any) -> list[str]:
    """What is wrong with a page_texts value (empty when nothing is)."""
    if value in (None, ""):
        return []
    if not isinstance(value, dict):
        return ['Page texts must map a key to its text, e.g. {"stimulus_heading": "Look at the images"}.']
    errors = []
    for key, text in value.items():
        if key not in PAGE_TEXTS:
            errors.append(f"Unknown page text {key!r}; use one of: {', '.join(PAGE_TEXTS)}.")
        elif not isinstance(text, str) or not text.strip():
            errors.append(f"The page text {key!r} must be a non-empty string (leave the key out for the default).")
        elif len(text) > MAX_LENGTH:
            errors.append(f"The page text {key!r} is longer than {MAX_LENGTH} characters.")
    return errors


def page_texts_check(value: Any) -> None:
    errors = page_texts_errors(value)
    if errors:
        raise ValidationError(errors)


def page_texts_set(study, condition, key: str) -> bool:
    """Whether the researcher wrote this text (for the study, or for this condition)."""
    return key in (study.page_texts or {}) or (condition is not None and key in (condition.page_texts or {}))


def page_texts_for(study, condition=None) -> dict[str, str]:
    """Every text of the participant pages for a study (and condition, once the participant has one)."""
    texts = {key: default for key, (_, default) in PAGE_TEXTS.items()}
    if condition is not None and not condition.shows_explanation:
        texts.update(WITHOUT_EXPLANATION)
    texts.update(study.page_texts or {})
    if condition is not None:
        texts.update(condition.page_texts or {})
    return texts
