"""`Circles`: shapes, indexing, converters, scaling, and the exact circle IoU."""

from __future__ import annotations

import math

import numpy as np
import pytest

from acnekit.circles import Circles, circle_iou, lens_area


def make(n: int = 4, scored: bool = True) -> Circles:
    xy = np.arange(2 * n, dtype=float).reshape(n, 2) * 10
    return Circles(xy, np.arange(1, n + 1, dtype=float), np.linspace(0.1, 0.9, n) if scored else None,
                   [f"c{i}" for i in range(n)])


@pytest.mark.parametrize("kwargs,message", [
    # radius with an extra axis
    (dict(xy=np.zeros((3, 2)), radius=np.zeros((3, 1))), r"radius must have shape \(n,\), got \(3, 1\)"),
    # radius of the wrong length
    (dict(xy=np.zeros((3, 2)), radius=np.zeros(2)), r"radius must have shape \(3,\), got \(2,\)"),
    # centres with three columns
    (dict(xy=np.zeros((3, 3)), radius=np.zeros(3)), r"xy must have shape \(n, 2\), got \(3, 3\)"),
    # scores of the wrong length
    (dict(xy=np.zeros((2, 2)), radius=np.ones(2), score=np.ones(3)), r"score must have shape \(2,\), got \(3,\)"),
    # class names of the wrong length
    (dict(xy=np.zeros((2, 2)), radius=np.ones(2), class_name=["a"]), r"class_name must have shape \(2,\)"),
])
def test_shape_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Circles(**kwargs)


def test_empty_and_len():
    e = Circles.empty()
    assert len(e) == 0 and e.xy.shape == (0, 2) and e.score is None
    assert Circles.empty(with_score=True).score.shape == (0,)
    assert e.xyr.shape == (0, 3) and e.to_xyxy().shape == (0, 4)
    assert Circles([], []).xy.shape == (0, 2)


def test_indexing_by_mask_int_slice():
    c = make()
    high = c[c.score > 0.5]
    assert len(high) == 2 and np.all(high.score > 0.5)
    assert list(high.class_name) == ["c2", "c3"]
    one = c[1]
    assert len(one) == 1 and one.radius[0] == 2.0
    assert len(c[1:3]) == 2 and c[np.array([0, 3])].radius.tolist() == [1.0, 4.0]


def test_equality():
    assert make() == make()
    assert make() != make(scored=False)
    other = make()
    other.radius[0] = 9
    assert make() != other


def test_xyr_round_trip():
    c = make()
    back = Circles.from_xyr(c.xyr, c.score, c.class_name)
    assert back == c


@pytest.mark.parametrize("rule,expected", [
    ("mean", 1.5),  # mean half side of a 2x4 box
    ("min", 1.0),  # inscribed
    ("max", 2.0),
    ("area", math.sqrt(8 / math.pi)),  # disc with the box's area
])
def test_from_xyxy_rules(rule, expected):
    c = Circles.from_xyxy([[0, 0, 2, 4]], radius_rule=rule)
    assert c.xy.tolist() == [[1.0, 2.0]]
    assert c.radius[0] == pytest.approx(expected)


def test_xyxy_round_trip_for_circles_and_bad_rule():
    c = make()
    assert np.allclose(Circles.from_xyxy(c.to_xyxy()).xyr, c.xyr)
    with pytest.raises(ValueError, match="radius_rule"):
        Circles.from_xyxy([[0, 0, 1, 1]], radius_rule="median")


def test_scaled_x_y_and_mean_radius():
    c = Circles([[10, 20]], [4.0], [0.5], ["acne"])
    s = c.scaled(0.5, 0.25)
    assert s.xy.tolist() == [[5.0, 5.0]]
    assert s.radius[0] == pytest.approx(4.0 * 0.375)
    assert s.score[0] == 0.5 and s.class_name[0] == "acne"


def test_inside_includes_the_border():
    c = Circles([[0, 0], [10, 5], [10.01, 5], [-0.1, 3]], np.ones(4))
    assert c.inside(10, 5).tolist() == [True, True, False, False]


def test_concat_keeps_scores_only_when_all_have_them():
    a, b = make(2), make(3, scored=False)
    both = Circles.concat([a, b])
    assert len(both) == 5 and both.score is None and len(both.class_name) == 5
    assert Circles.concat([a, a]).score.shape == (4,)
    assert len(Circles.concat([])) == 0


def test_iou_identical_disjoint_nested():
    a = np.array([[0, 0, 2], [100, 100, 1]])
    iou = circle_iou(a, a)
    assert iou.shape == (2, 2)
    assert np.allclose(np.diag(iou), 1.0) and iou[0, 1] == 0.0
    nested = circle_iou([[0, 0, 1]], [[0.2, 0, 2]])
    assert nested[0, 0] == pytest.approx(0.25)  # area ratio (1/2)^2


def test_iou_partial_overlap_matches_grid_estimate():
    a, b = np.array([[0.0, 0.0, 3.0]]), np.array([[4.0, 1.0, 2.0]])
    exact = circle_iou(a, b)[0, 0]
    g = np.linspace(-4, 7, 1501)
    x, y = np.meshgrid(g, g)
    in_a = x**2 + y**2 <= 9
    in_b = (x - 4) ** 2 + (y - 1) ** 2 <= 4
    estimate = (in_a & in_b).sum() / (in_a | in_b).sum()
    assert 0 < exact < 1 and exact == pytest.approx(estimate, abs=2e-3)
    assert circle_iou(b, a)[0, 0] == pytest.approx(exact)  # symmetric


def test_iou_shapes_and_empty():
    assert circle_iou(np.zeros((0, 3)), [[0, 0, 1]]).shape == (0, 1)
    assert circle_iou(np.random.default_rng(0).random((5, 3)) + 0.1, np.ones((7, 3))).shape == (5, 7)
    with pytest.raises(ValueError, match="a must have shape"):
        circle_iou([[0, 0]], [[0, 0, 1]])


def test_lens_area_limits():
    assert lens_area(0.0, 1.0, 1.0) == pytest.approx(math.pi)
    assert lens_area(2.0, 1.0, 1.0) == 0.0  # touching
    assert lens_area(0.5, 1.0, 3.0) == pytest.approx(math.pi)  # nested: smaller disc
