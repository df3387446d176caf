"""A Likert item names its ends once: per-point labels, or the two anchors when there are none."""
from types import SimpleNamespace

from django.template.loader import render_to_string


def _render(labels):
    item = SimpleNamespace(kind="likert", text="Arms matter.", required=True, key="arms", scale_points=3,
                           labels=labels, anchor_low="Strongly disagree", anchor_high="Strongly agree")
    points = [SimpleNamespace(value=v, checked=False, label=(labels[v - 1] if labels else "")) for v in (1, 2, 3)]
    row = SimpleNamespace(item=item, field="item-arms", errors=[], points=points, value=None)
    return render_to_string("studies/_item.html", {"row": row, "text_limit": 5000})


def test_anchors_are_shown_when_points_have_no_labels():
    html = _render([])
    assert 'class="likert-anchors"' in html and html.count("Strongly disagree") == 1


def test_per_point_labels_replace_the_anchors():
    html = _render(["Disagree", "Neutral", "Agree"])
    assert 'class="likert-anchors"' not in html and "Strongly disagree" not in html
    assert "Neutral" in html
