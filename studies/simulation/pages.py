"""Reading the participant pages a bot is served: headings, forms and their fields, notices, codes.

Plain html.parser, so it imports without Django (bench/load.py imports it before configuring Django).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import unquote, urlsplit


@dataclass
class FormField:
    name: str
    kind: str  # radio, checkbox, textarea, hidden, text, ...
    values: list[str] = field(default_factory=list)


@dataclass
class PageForm:
    method: str
    action: str
    fields: dict[str, FormField] = field(default_factory=dict)
    buttons: list[tuple[str, str]] = field(default_factory=list)  # (name, value) of submit buttons
    min_seconds: int = 0  # data-min-seconds: the page may be submitted only after this long

    def hidden(self, name: str) -> str | None:
        found = self.fields.get(name)
        return found.values[0] if found and found.kind == "hidden" and found.values else None

    def has_button(self, name: str, value: str) -> bool:
        return (name, value) in self.buttons


@dataclass
class ParsedPage:
    heading: str = ""
    forms: list[PageForm] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)  # error notices shown to the participant
    completion_code: str = ""
    refresh_url: str = ""  # where a <meta http-equiv="refresh"> sends the browser (the completion page)

    def post_form(self) -> PageForm | None:
        return next((form for form in self.forms if form.method == "post"), None)


class _PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = ParsedPage()
        self._form: PageForm | None = None
        self._capture: str | None = None  # "heading", "message", "code"
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {name: value or "" for name, value in attrs}
        classes = attr.get("class", "").split()
        if tag == "form":
            minimum = attr.get("data-min-seconds", "0")
            self._form = PageForm(method=attr.get("method", "get").lower(), action=attr.get("action", ""),
                                  min_seconds=int(minimum) if minimum.isdigit() else 0)
            self.page.forms.append(self._form)
        elif tag == "meta" and attr.get("http-equiv", "").lower() == "refresh":
            _, _, target = attr.get("content", "").partition("url=")
            self.page.refresh_url = target.strip()
        elif tag == "h1" and not self.page.heading:
            self._start_capture("heading")
        elif tag == "code" and "completion-code" in classes:
            self._start_capture("code")
        elif (attr.get("role") == "alert" or "error" in classes) and tag in ("p", "li", "div"):
            self._start_capture("message")
        if self._form is None:
            return
        name = attr.get("name", "")
        if tag == "input":
            kind = attr.get("type", "text").lower()
            if kind == "submit":
                self._form.buttons.append((name, attr.get("value", "")))
            elif name:
                entry = self._form.fields.setdefault(name, FormField(name=name, kind=kind))
                entry.values.append(attr.get("value", ""))
        elif tag == "textarea" and name:
            self._form.fields.setdefault(name, FormField(name=name, kind="textarea"))
        elif tag == "button" and attr.get("type", "submit").lower() == "submit":
            self._form.buttons.append((name, attr.get("value", "")))

    def _start_capture(self, what: str) -> None:
        if self._capture is None:
            self._capture, self._text = what, []

    def handle_data(self, data: str) -> None:
        if self._capture is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        ends = {"heading": ("h1",), "code": ("code",), "message": ("p", "li", "div")}
        if self._capture is not None and tag in ends[self._capture]:
            text = " ".join("".join(self._text).split())
            if self._capture == "heading":
                self.page.heading = text
            elif self._capture == "code":
                self.page.completion_code = text
            elif text:
                self.page.messages.append(text)
            self._capture = None


def page_parse(html: str) -> ParsedPage:
    parser = _PageParser()
    parser.feed(html)
    parser.close()
    return parser.page


def page_parse_text(html: str) -> str:
    """Visible-ish text of a page, for error messages."""
    class _Text(HTMLParser):
        def __init__(self) -> None:
            super().__init__(convert_charrefs=True)
            self.chunks: list[str] = []
            self._skip = 0

        def handle_starttag(self, tag, attrs):
            self._skip += tag in ("script", "style")

        def handle_endtag(self, tag):
            self._skip -= tag in ("script", "style") and self._skip > 0

        def handle_data(self, data):
            if not self._skip:
                self.chunks.append(data)

    parser = _Text()
    parser.feed(html or "")
    return " ".join(parser.chunks)


def path_parts(url: str) -> list[str]:
    return [unquote(part) for part in urlsplit(url).path.split("/") if part]


def participant_page_name(url: str) -> str:
    """The page of a participant URL /s/<slug>/p/<signed token>/<page>/; "" for any other URL."""
    parts = path_parts(url)
    if len(parts) >= 5 and parts[0] == "s" and parts[2] == "p":
        return parts[4]
    return ""
