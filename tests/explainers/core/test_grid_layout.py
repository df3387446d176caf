"""Grid layout maths: targets, bins, labels, draws, diagonals, isofactual directions, composite headers."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from explainers.core.methods import MethodError
from explainers.core.methods.binning import assign_bins, bin_edges, draw_per_bin, symmetric_targets
from explainers.core.methods.isofactual import principal_directions
from explainers.core.stimuli.composite import wrap_label
from explainers.core.stimuli.layout import (
    GridLayout,
    GridLayoutError,
    check_bin_capacity,
    column_labels,
    original_rows,
)


def test_targets_are_symmetric_percentiles_of_absolute_logits():
    logits = np.array([-4.0, -2.0, -1.0, 0.5, 1.0, 3.0, 5.0])
    targets = symmetric_targets(logits, (33.3, 75.0))
    a = np.percentile(np.abs(logits), [33.3, 75.0])
    np.testing.assert_allclose(targets, [-a[1], -a[0], 0.0, a[0], a[1]])


def test_bin_edges_are_midpoints_with_open_ends():
    edges = bin_edges(np.array([-4.0, -2.0, 0.0, 2.0, 4.0]))
    np.testing.assert_allclose(edges, [-np.inf, -3.0, -1.0, 1.0, 3.0, np.inf])
    np.testing.assert_array_equal(assign_bins(np.array([-9.0, -3.0, -1.01, 0.0, 2.99, 3.0]), edges),
                                  [0, 1, 1, 2, 3, 4])


def test_column_labels_run_from_stretchy_to_sticky():
    assert column_labels(5) == ["Stretchy, very confident", "Stretchy, confident", "Borderline",
                                      "Sticky, confident", "Sticky, very confident"]
    assert column_labels(3, left="A", right="B") == ["A, confident", "Borderline", "B, confident"]


@pytest.mark.parametrize("data, message", [
    ({"rows": 0}, "rows must be at least 1"),
    ({"percentiles": [75, 33.3]}, "strictly increasing"),
    ({"percentiles": [0, 50]}, "strictly between 0 and 100"),
    ({"columns": 4}, "columns must be"),
    ({"rows": 30, "held_out": 100}, "held_out"),
    ({"rows": "many"}, "whole number"),
    ({"colour": 1}, "unknown layout key"),
])
def test_impossible_layouts_are_refused(data, message):
    with pytest.raises(GridLayoutError, match=message):
        GridLayout.from_dict(data)


def test_default_layout_is_the_seed_studys_30_by_5():
    layout = GridLayout.from_dict({})
    assert (layout.rows, layout.columns, layout.percentiles) == (30, 5, (33.3, 75.0))
    assert layout.originals_per_bin() == 6
    assert GridLayout.from_dict({"percentiles": [50]}).columns == 3


def test_draws_are_distinct_within_their_bin_and_seeded():
    bins = np.repeat(np.arange(5), 20)
    first = draw_per_bin(bins, 6, 5, seed=3)
    assert len(set(first.ravel())) == 30
    assert all((bins[first[j]] == j).all() for j in range(5))
    np.testing.assert_array_equal(first, draw_per_bin(bins, 6, 5, seed=3))
    assert not np.array_equal(first, draw_per_bin(bins, 6, 5, seed=4))
    with pytest.raises(GridLayoutError, match="has 20"):
        check_bin_capacity(bins, 21, 5)
    with pytest.raises(MethodError, match="holds 20 images; 21 are needed"):
        draw_per_bin(bins, 21, 5, seed=0)


def test_originals_form_diagonals():
    draws = np.arange(30).reshape(5, 6)
    rows = original_rows(draws)
    assert [column for _, column in rows[:7]] == [0, 1, 2, 3, 4, 0, 1]
    assert sorted(source for source, _ in rows) == list(range(30))


def test_isofactual_directions_are_orthogonal_to_w():
    rng = np.random.default_rng(0)
    z, w = rng.normal(size=(50, 8)), rng.normal(size=8)
    _, directions, std = principal_directions(torch.from_numpy(w), torch.from_numpy(z))
    assert (directions[:3] @ torch.from_numpy(w)).abs().max() < 1e-9
    assert (torch.diff(std) <= 1e-12).all()


def test_composite_headers_wrap_whole_words_instead_of_cutting_them():
    assert wrap_label("Stretchy, very confident", 10) == ["Stretchy", "very", "confident"]
    assert wrap_label("Stretchy, very confident", 30) == ["Stretchy very confident"]
    assert wrap_label("Borderline", 4) == ["Borderline"]  # a long word stays whole on its own line
