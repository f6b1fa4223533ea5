"""The reference grade: Hayashi bands on the graded count, and its grade probabilities."""

import numpy as np
import pytest

from acnekit.assess import summarise
from acnekit.circles import Circles
from acnekit.reference_grade import fit_sigma, grade_probabilities, reference_grade


@pytest.mark.parametrize("count, grade, name", [
    (0, 0, "mild"), (5, 0, "mild"), (6, 1, "moderate"), (20, 1, "moderate"),
    (21, 2, "severe"), (50, 2, "severe"), (51, 3, "very severe"),
])
def test_grade_is_the_band_of_the_graded_count(count, grade, name):
    g = reference_grade(count)
    assert (g["grade"], g["name"], g["count"]) == (grade, name, count)
    assert g["band"] == ["0-5", "6-20", "21-50", ">50"][grade] and g["bands"] == [5, 20, 50]
    assert sum(g["probabilities"]) == pytest.approx(1, abs=1e-3) and "62.5%" in g["caveat"]


def test_probabilities_sum_to_one_and_shift_with_count():
    probs = np.array([grade_probabilities(k, sigma=0.5) for k in range(0, 80)])
    assert np.allclose(probs.sum(1), 1) and (probs >= 0).all()
    above = np.cumsum(probs[:, ::-1], axis=1)[:, ::-1]  # P(grade >= g)
    assert (np.diff(above, axis=0) >= -1e-9).all()  # every tail grows with the count
    assert probs[0].argmax() == 0 and probs[12].argmax() == 1 and probs[35].argmax() == 2 and probs[79].argmax() == 3
    assert probs[3, 0] > 0.8  # few graded lesions: very likely mild


def test_probabilities_by_hand():
    from math import erf, log, sqrt

    def phi(z):
        return 0.5 * (1 + erf(z / sqrt(2)))

    # count 10, sigma 0.5: P(N <= 5) = Phi((log 6.5 - log 11) / 0.5), P(N <= 20) = Phi((log 21.5 - log 11) / 0.5), ...
    c = [phi((log(u + 1.5) - log(11)) / 0.5) for u in (5, 20, 50)]
    want = [c[0], c[1] - c[0], c[2] - c[1], 1 - c[2]]
    assert np.allclose(grade_probabilities(10, sigma=0.5), want)
    with pytest.raises(ValueError):
        grade_probabilities(-1)
    with pytest.raises(ValueError):
        grade_probabilities(3, sigma=0)


def test_fit_sigma_prefers_more_spread_for_noisy_references():
    counts = np.array([3, 4, 10, 12, 30, 35] * 5)
    exact = [0, 0, 1, 1, 2, 2] * 5
    noisy = [0, 1, 1, 0, 2, 1] * 5
    a_exact, ll_exact = fit_sigma(counts, exact)
    a_noisy, ll_noisy = fit_sigma(counts, noisy)
    assert a_noisy > a_exact and ll_noisy < ll_exact


def test_summarise_counts_only_flagged_lesions():
    c = Circles.from_xyr([[10 + 10 * i, 20, 3] for i in range(8)], score=[0.9] * 8)
    s = summarise(c, 200, 100, graded=[True] * 6 + [False] * 2)
    assert s["grade"]["count"] == 6 and s["grade"]["grade"] == 1 and s["count_band"]["count"] == 8
    s = summarise(c, 200, 100, graded=[False] * 8)
    assert s["grade"]["count"] == 0 and s["grade"]["grade"] == 0
    assert summarise(c, 200, 100)["grade"] is None
    with pytest.raises(ValueError, match="graded must have shape"):
        summarise(c, 200, 100, graded=[True])
