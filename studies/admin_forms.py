"""Admin form pieces that make the study editor fit the job: per-point labels one per line, page texts as one
field each (the default as placeholder), and stimulus uploads that survive a validation error elsewhere on
the page (a browser never re-sends a file, so without this the researcher would have to choose it again).
"""
from __future__ import annotations

from django import forms
from django.core import signing
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile

from .page_texts import PAGE_TEXTS


class LinesListField(forms.CharField):
    """A list of strings edited as one line each (the per-point labels of a Likert item)."""

    widget = forms.Textarea(attrs={"rows": 3, "cols": 24, "placeholder": "one label per scale point,\nlowest first"})

    def __init__(self, *args, **kwargs):
        kwargs.pop("encoder", None)
        kwargs.pop("decoder", None)
        kwargs.setdefault("required", False)
        kwargs.setdefault("help_text", "One label per line, from the lowest point to the highest; empty = none.")
        super().__init__(*args, **kwargs)

    def prepare_value(self, value):
        if isinstance(value, list):
            return "\n".join(str(label) for label in value)
        return value

    def to_python(self, value):
        if isinstance(value, list):
            return value
        text = super().to_python(value) or ""
        return [line.strip() for line in text.splitlines() if line.strip()]

    def has_changed(self, initial, data):
        return self.to_python(initial or []) != self.to_python(data)


def page_text_field_name(key: str) -> str:
    return f"text_{key}"


def _page_text_fields() -> dict[str, forms.Field]:
    return {
        page_text_field_name(key): forms.CharField(
            label=label, required=False, max_length=2000,
            widget=forms.TextInput(attrs={"placeholder": default, "size": 60}),
            help_text="" if key != "satisfaction_heading" else (
                'Default "About the explanation"; "A few more questions" for a condition without explanation.'),
        )
        for key, (label, default) in PAGE_TEXTS.items()
    }


PAGE_TEXT_FIELD_NAMES = [page_text_field_name(key) for key in PAGE_TEXTS]


class _PageTextsFormBase(forms.ModelForm):
    """A model form whose page_texts JSON is edited as one text field per key (empty = the default)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        stored = (self.instance.page_texts if self.instance is not None else None) or {}
        for key in PAGE_TEXTS:
            self.fields[page_text_field_name(key)].initial = stored.get(key, "")

    def clean(self):
        cleaned = super().clean()
        self.instance.page_texts = {
            key: cleaned[page_text_field_name(key)].strip()
            for key in PAGE_TEXTS if (cleaned.get(page_text_field_name(key)) or "").strip()
        }
        return cleaned


PageTextsForm = type("PageTextsForm", (_PageTextsFormBase,), {"__module__": __name__, **_page_text_fields()})

_STAGED_SALT = "studies.admin.staged-stimulus"


class ConditionForm(PageTextsForm):
    """A condition's form: a stimulus uploaded once is kept when the page comes back with an error."""

    staged_stimulus_image = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean(self):
        cleaned = super().clean()
        image = cleaned.get("stimulus_image")
        if isinstance(image, UploadedFile):
            # Stored now, under its final name: the model then refers to it instead of storing it again, and
            # the signed name comes back with the page if anything on it is invalid.
            name = default_storage.save(self.instance._meta.get_field("stimulus_image").generate_filename(
                self.instance, image.name), image)
            self._stage(name)
            cleaned["stimulus_image"] = name
        elif image is not False and not self.files.get(self.add_prefix("stimulus_image")):
            staged = self._staged_name()
            if staged:
                self._stage(staged)
                cleaned["stimulus_image"] = staged
        return cleaned

    def _staged_name(self) -> str:
        signed = self.data.get(self.add_prefix("staged_stimulus_image"), "")
        if not signed:
            return ""
        try:
            name = signing.Signer(salt=_STAGED_SALT).unsign(signed)
        except signing.BadSignature:
            return ""
        return name if default_storage.exists(name) else ""

    def _stage(self, name: str) -> None:
        self.data = self.data.copy()
        self.data[self.add_prefix("staged_stimulus_image")] = signing.Signer(salt=_STAGED_SALT).sign(name)
        note = f"Already uploaded: {name.rsplit('/', 1)[-1]} (kept; choose another file to replace it)."
        self.fields["stimulus_image"].help_text = note
        self["stimulus_image"].help_text = note  # the bound field copied the help text when it was made
