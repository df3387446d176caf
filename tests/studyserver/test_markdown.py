"""Researchers' consent and instruction texts: Markdown shown as formatting, HTML shown as text."""
from __future__ import annotations

import pytest
from django.template import engines

from studyserver.markdown import render_markdown


def test_the_seed_instructions_render_as_formatting_not_markup():
    html = render_markdown("Two animals: **Stretchy** and *Sticky*.\n\nColumns:\n* far left\n* far right\n\n"
                           "1. look\n2. answer")
    assert "<strong>Stretchy</strong>" in html and "<em>Sticky</em>" in html
    assert "<ul><li>far left</li><li>far right</li></ul>" in html
    assert "<ol><li>look</li><li>answer</li></ol>" in html
    assert "**" not in html and "* far" not in html


@pytest.mark.parametrize("source, forbidden", [
    ("<script>alert(1)</script>", "<script"),
    ('<img src=x onerror="alert(1)">', "<img"),
    ("[click](javascript:alert(1))", 'href="javascript'),
    ('[x](https://a.org" onmouseover="alert(1))', "onmouseover=\""),
    ("**<b>bold</b>**", "<b>"),
])
def test_html_in_a_text_is_escaped_and_unsafe_links_stay_text(source, forbidden):
    assert forbidden not in render_markdown(source)


def test_safe_links_headings_code_and_line_breaks():
    html = render_markdown("# Privacy\nSee [our policy](https://example.org/p?a=1&b=2).\nLine two `a_b*c*`")
    assert html.startswith("<h2>Privacy</h2>")
    assert '<a href="https://example.org/p?a=1&amp;b=2" rel="noopener noreferrer" target="_blank">our policy</a>' in html
    assert "<br>" in html and "<code>a_b*c*</code>" in html
    assert render_markdown("") == "" and render_markdown(None) == ""
    assert "<em>" not in render_markdown("snake_case_names stay as they are")


def test_the_template_filter_is_safe_to_insert():
    template = engines["django"].from_string("{% load markup %}{{ text|markdown }}")
    assert template.render({"text": "**hi** <i>x</i>"}) == "<p><strong>hi</strong> &lt;i&gt;x&lt;/i&gt;</p>"
