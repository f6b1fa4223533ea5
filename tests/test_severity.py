import math

import pytest
from hypothesis import given, strategies as st

from acnekit.severity import area_percent, severity, severity_score

counts = st.integers(0, 10_000)
areas = st.floats(0, 100, allow_nan=False)


def test_zero_and_half_points():
    assert severity_score(0, 0) == 0
    assert severity_score(20, 0) == pytest.approx(25.0)  # n = N_HALF: half of the count part
    assert severity_score(0, 1.0) == pytest.approx(25.0)  # p = P_HALF: half of the area part
    assert severity_score(20, 1.0) == pytest.approx(50.0)


@given(counts, counts, areas, areas)
def test_monotone_and_bounded(n1, n2, p1, p2):
    lo_n, hi_n = sorted((n1, n2))
    lo_p, hi_p = sorted((p1, p2))
    s_lo, s_hi = severity_score(lo_n, lo_p), severity_score(hi_n, hi_p)
    assert 0 <= s_lo <= s_hi <= 100
    assert severity_score(hi_n, lo_p) >= s_lo and severity_score(lo_n, hi_p) >= s_lo


@given(st.integers(0, 500), st.floats(0, 1e6), st.floats(0, 1e4))
def test_adding_lesion_never_lowers(n, area, extra):
    w, h = 640, 480
    base = severity(n, area, w, h)["score"]
    assert severity(n + 1, area + extra, w, h)["score"] >= base


def test_resolution_free():
    # the same photo at twice the resolution: 4x the pixel area, same score
    a = severity(12, 3000.0, 800, 600)
    b = severity(12, 12000.0, 1600, 1200)
    assert a["score"] == pytest.approx(b["score"])
    assert a["inputs"]["area_percent"] == pytest.approx(100 * 3000 / (800 * 600))


@pytest.mark.parametrize("n, p", [(-1, 0), (0, -0.5), (math.nan, 0), (0, math.inf)])
def test_bad_inputs(n, p):
    with pytest.raises(ValueError):
        severity_score(n, p)


def test_area_percent_bad_size():
    with pytest.raises(ValueError):
        area_percent(1.0, 0, 10)
