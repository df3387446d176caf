"""``{% load markup %}{{ text|markdown }}``: researchers' Markdown rendered safely (studyserver.markdown)."""
from django import template

from studyserver.markdown import render_markdown

register = template.Library()


@register.filter(name="markdown")
def markdown_filter(value):
    return render_markdown(value)
