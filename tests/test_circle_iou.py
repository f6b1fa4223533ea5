"""circle_iou: properties (hypothesis) and agreement with a Monte-Carlo estimate."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acnekit.circles import circle_iou
from acnekit.metrics.matching import pair_iou

coord = st.floats(-100, 100, allow_nan=False)
radius = st.floats(0.5, 60, allow_nan=False)
circle = st.tuples(coord, coord, radius)
circle_sets = st.lists(circle, min_size=1, max_size=6).map(lambda c: np.array(c, dtype=float))


@settings(max_examples=150, deadline=None)
@given(circle_sets, circle_sets)
def test_symmetric_and_bounded(a, b):
    ab = circle_iou(a, b)
    assert ab.shape == (len(a), len(b))
    np.testing.assert_allclose(ab, circle_iou(b, a).T, atol=1e-12)
    assert np.all(ab >= 0) and np.all(ab <= 1)


@settings(max_examples=100, deadline=None)
@given(circle_sets)
def test_identical_is_one(a):
    np.testing.assert_allclose(np.diag(circle_iou(a, a)), 1.0, atol=1e-9)


@settings(max_examples=100, deadline=None)
@given(circle, radius, st.floats(0, 2 * np.pi), st.floats(1.0001, 3))
def test_disjoint_is_zero(c, r2, angle, gap):
    x, y, r1 = c
    d = (r1 + r2) * gap  # centres farther apart than r1 + r2
    b = [x + d * np.cos(angle), y + d * np.sin(angle), r2]
    assert circle_iou([c], [b])[0, 0] == 0.0


@settings(max_examples=100, deadline=None)
@given(circle, st.floats(0.05, 0.95), st.floats(0, 2 * np.pi), st.floats(0, 0.999))
def test_nested_is_area_ratio(c, shrink, angle, offset):
    x, y, r = c
    small_r = r * shrink
    d = (r - small_r) * offset  # small circle stays inside the big one
    small = [x + d * np.cos(angle), y + d * np.sin(angle), small_r]
    np.testing.assert_allclose(circle_iou([c], [small])[0, 0], shrink**2, rtol=1e-9, atol=1e-12)


@settings(max_examples=100, deadline=None)
@given(circle_sets, circle_sets)
def test_pair_iou_matches_matrix(a, b):
    n = min(len(a), len(b))
    np.testing.assert_allclose(pair_iou(a[:n], b[:n]), np.diag(circle_iou(a[:n], b[:n])), atol=1e-12)


def _monte_carlo_iou(a, b, n=400_000, seed=0):
    rng = np.random.default_rng(seed)
    lo = np.minimum(np.array(a[:2]) - a[2], np.array(b[:2]) - b[2])
    hi = np.maximum(np.array(a[:2]) + a[2], np.array(b[:2]) + b[2])
    p = lo + rng.random((n, 2)) * (hi - lo)
    in_a = np.hypot(*(p - a[:2]).T) <= a[2]
    in_b = np.hypot(*(p - b[:2]).T) <= b[2]
    return np.sum(in_a & in_b) / np.sum(in_a | in_b)


@pytest.mark.parametrize("a, b", [
    ([0, 0, 10], [5, 0, 10]),  # equal radii, half overlap
    ([0, 0, 10], [12, 3, 6]),  # partial, different radii
    ([3, -2, 20], [10, 4, 9]),  # small circle crossing the big one's edge
    ([0, 0, 1], [1.9, 0, 1]),  # sliver
])
def test_against_monte_carlo(a, b):
    a, b = np.array(a, float), np.array(b, float)
    exact = circle_iou(a[None], b[None])[0, 0]
    assert 0 < exact < 1
    assert abs(exact - _monte_carlo_iou(a, b)) < 0.01


def test_empty_shapes():
    assert circle_iou(np.zeros((0, 3)), [[0, 0, 1]]).shape == (0, 1)
    assert circle_iou([[0, 0, 1]], np.zeros((0, 3))).shape == (1, 0)
