"""bench/bench_localisation.py's helpers: centre-rule pairing, oracle substitution, radius errors."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from acnekit.circles import Circles
from acnekit.dataset import AcneDataset, ImageRecord

_spec = importlib.util.spec_from_file_location(
    "bench_localisation", Path(__file__).resolve().parents[1] / "bench" / "bench_localisation.py")
loc = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(loc)


def _ds(*images):
    return AcneDataset([ImageRecord(i, f"p{i}.jpg", 100, 100, Circles.from_xyr(np.asarray(x, float), s))
                        for i, (x, s) in enumerate(images)])


def _case():
    gt = _ds(([[20, 20, 4], [60, 60, 8]], None), ([[50, 50, 5]], None))
    pred = _ds(
        # image 0: one near each lesion (off in centre and radius), one far away, one below 0.5
        ([[21, 19, 2], [62, 61, 16], [90, 10, 3], [59, 60, 8]], [0.9, 0.8, 0.7, 0.3]),
        ([[51, 50, 10]], [0.6]),
    )
    return gt, pred


def test_centre_pairs_follow_the_centre_rule_above_the_threshold():
    gt, pred = _case()
    (idx0, g0), (idx1, g1) = loc.centre_pairs(gt, pred, 0.5)
    assert idx0.tolist() == [0, 1, 2] and g0.tolist() == [0, 1, -1]
    assert idx1.tolist() == [0] and g1.tolist() == [0]


def test_full_substitution_gives_the_matched_lesions_and_keeps_the_rest():
    gt, pred = _case()
    out = loc.substituted(gt, pred, loc.centre_pairs(gt, pred, 0.05), 1.0, 1.0)
    c = out.images[0].circles
    np.testing.assert_allclose(c.xyr[:2], gt.images[0].circles.xyr)
    np.testing.assert_allclose(c.xyr[2:], pred.images[0].circles.xyr[2:])  # unmatched: unchanged
    np.testing.assert_allclose(c.score, pred.images[0].circles.score)
    np.testing.assert_allclose(out.images[1].circles.xyr, gt.images[1].circles.xyr)


def test_partial_radius_substitution_shrinks_the_log_error():
    gt, pred = _case()
    out = loc.substituted(gt, pred, loc.centre_pairs(gt, pred, 0.05), 0.0, 0.25)
    r = out.images[0].circles.radius[0]
    assert r == pytest.approx(np.exp(np.log(2) + 0.25 * (np.log(4) - np.log(2))))
    np.testing.assert_allclose(out.images[0].circles.xy, pred.images[0].circles.xy)  # centres untouched


def test_radius_errors_are_log_true_over_predicted():
    gt, pred = _case()
    e0, e1 = loc.radius_errors(gt, pred, 0.5)
    np.testing.assert_allclose(e0, [np.log(4 / 2), np.log(8 / 16)])
    np.testing.assert_allclose(e1, [np.log(5 / 10)])
