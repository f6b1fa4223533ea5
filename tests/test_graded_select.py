"""The graded selector: colour and context features on hand-made images, a fit that learns to
pick the conspicuous (dark red) discs over faint ones, its card round trip, the detector
applying it, and the training script's matching and figures."""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from acnekit.circles import Circles
from acnekit.detector.graded import GradedHead
from acnekit.detector.graded_select import FEATURE_NAMES, Selector, colour_features, features, fit_selector
from acnekit.detector.graded_select_train import countable_labels, figures, graded_counts, match_boxes
from acnekit.detector.infer import Detector
from acnekit.detector.network import CircleNet
from acnekit.errors import ModelError

SKIN = (205, 160, 140)
DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "acne04-640"


def _photo(rng, n_bright=4, n_faint=4, size=160):
    """A skin-coloured photo with dark-red (conspicuous) and faint pink discs; their circles
    (all with the same detection and head scores) and which are conspicuous."""
    img = np.full((size, size, 3), SKIN, np.uint8)
    img = np.clip(img + rng.normal(0, 3, img.shape), 0, 255).astype(np.uint8)
    xy, label = [], []
    for k in range(n_bright + n_faint):
        x, y = rng.integers(12, size - 12, 2)
        bright = k < n_bright
        colour = (150, 60, 60) if bright else (212, 152, 140)
        cv2.circle(img, (int(x), int(y)), 4, colour, -1)
        xy.append((x, y))
        label.append(bright)
    c = Circles(np.array(xy, float), np.full(len(xy), 4.0), np.full(len(xy), 0.6))
    return img, c, np.array(label)


def test_colour_features_see_a_red_disc_against_its_ring():
    img = np.full((60, 60, 3), SKIN, np.uint8)
    cv2.circle(img, (30, 30), 5, (170, 50, 50), -1)
    f = colour_features(img, np.array([[30.0, 30.0], [1.0, 58.0]]), np.array([5.0, 5.0]))
    assert f.shape == (2, 9)
    assert f[0, 7] > 0.2  # a* (red-green) inside minus ring: redder inside
    assert f[0, 6] < -0.2  # L* inside minus ring: darker inside
    assert np.all(np.abs(f[1, 6:]) < 0.05)  # plain skin at the image corner (squares clipped): no contrast
    assert colour_features(img, np.zeros((0, 2)), np.zeros(0)).shape == (0, 9)


def test_features_shape_context_and_rank():
    rng = np.random.default_rng(0)
    img, c, _ = _photo(rng, 2, 2)
    c.score = np.array([0.9, 0.5, 0.2, 0.1])
    head = np.array([0.1, 0.8, 0.3, 0.5])
    f = features(img, c, head, op_threshold=0.36)
    assert f.shape == (4, len(FEATURE_NAMES))
    col = {n: f[:, i] for i, n in enumerate(FEATURE_NAMES)}
    assert np.allclose(col["log1p_photo_count"], np.log1p(2))  # two circles reach the operating point
    assert np.allclose(col["log1p_photo_head_count"], np.log1p(1))  # of those, one head score >= 0.2
    assert np.allclose(np.expm1(col["log1p_head_rank"]), [3, 0, 2, 1])
    assert np.allclose(col["log_radius"], np.log(4.0))
    assert features(img, Circles.empty(), np.zeros(0), 0.36).shape == (0, len(FEATURE_NAMES))


def test_selector_learns_to_pick_the_conspicuous_discs():
    rng = np.random.default_rng(1)
    xs, ys = [], []
    for _ in range(12):
        img, c, lab = _photo(rng)
        xs.append(features(img, c, np.full(len(c), 0.5), 0.36))
        ys.append(lab)
    sel = fit_selector(np.concatenate(xs), np.concatenate(ys), 0.36, hidden=4, members=2)
    img, c, lab = _photo(np.random.default_rng(99))
    p = sel(img, c, np.full(len(c), 0.5))
    assert p.shape == (len(c),) and np.all((p >= 0) & (p <= 1))
    assert p[lab].min() > p[~lab].max()
    assert int((p >= 0.5).sum()) == int(lab.sum())  # counts the conspicuous discs


def test_selector_card_round_trip_and_malformed_cards():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(200, len(FEATURE_NAMES)))
    y = x[:, 0] + 0.3 * rng.normal(size=200) > 0
    sel = fit_selector(x, y, 0.36, hidden=3, members=2)
    card = json.loads(json.dumps(sel.to_card()))
    again = Selector.from_card(card)
    assert np.allclose(again.probability(x), sel.probability(x)) and again.op_threshold == 0.36
    with pytest.raises(ModelError, match="features"):
        Selector.from_card({**card, "features": ["x"]})
    with pytest.raises(ModelError, match="malformed"):
        Selector.from_card({k: v for k, v in card.items() if k != "members"})
    with pytest.raises(ModelError, match="shapes"):
        Selector.from_card({**card, "members": [{**card["members"][0], "w2": [1.0]}]})


def test_detector_applies_the_selector_from_the_graded_card():
    torch.manual_seed(0)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(100, len(FEATURE_NAMES)))
    sel = fit_selector(x, x[:, 2] > 0, 0.36, hidden=3, members=1)
    card = {"score_threshold": 0.36, "min_score": 0.0, "max_detections": 20}
    plain = Detector(CircleNet(), card, graded=GradedHead(), graded_card={"graded_threshold": 0.5})
    with_sel = Detector(plain.model, card, graded=plain.graded, graded_card={"graded_threshold": 0.5, "selector": sel.to_card()})
    assert plain.selector is None and with_sel.selector is not None
    img, _, _ = _photo(rng, size=128)
    (work, raw), = with_sel.candidates_many([img], select=False)
    (_, chosen), = with_sel.candidates_many([img])
    assert len(raw) == len(chosen) > 0
    assert np.allclose(chosen.graded_score, sel(work, raw, raw.graded_score))
    (_, head_only), = plain.candidates_many([img])
    assert np.allclose(head_only.graded_score, raw.graded_score)
    assert not np.allclose(chosen.graded_score, raw.graded_score)


def test_match_boxes_is_one_to_one_within_the_gate():
    xy = np.array([[10.0, 10.0], [11.0, 10.0], [50.0, 50.0], [80.0, 80.0]])
    r = np.array([4.0, 4.0, 2.0, 2.0])
    boxes = np.array([[10.0, 11.0], [52.0, 50.0], [90.0, 80.0]])
    got = match_boxes(xy, r, boxes, np.array([3.0, 3.0, 3.0]))
    assert got.tolist() == [True, False, True, False]  # one circle per box; 10 px is beyond 4 + 1
    assert match_boxes(np.zeros((0, 2)), np.zeros(0), boxes, np.ones(3)).shape == (0,)


def test_countable_labels_match_only_circles_a_count_can_include():
    # box at (10, 10): a low-score circle sits on it, the countable one 3 px away; a box at
    # (50, 50) has only an off-skin circle
    c = Circles(np.array([[10.0, 10.0], [13.0, 10.0], [50.0, 50.0]]), np.array([4.0, 4.0, 4.0]))
    boxes = Circles(np.array([[10.0, 10.0], [50.0, 50.0]]), np.array([3.0, 3.0]))
    at_op = np.array([False, True, True])
    in_skin = np.array([True, True, False])
    assert match_boxes(c.xy, c.radius, boxes.xy, boxes.radius).tolist() == [True, False, True]
    assert countable_labels(c, at_op, in_skin, boxes).tolist() == [False, True, False]


def test_graded_counts_and_figures_by_hand():
    rows = [{"score": np.array([0.5, 0.5, 0.2]), "in_skin": np.array([True, False, True]), "nbox": 1, "grade": 0},
            {"score": np.array([0.9] * 8), "in_skin": np.ones(8, bool), "nbox": 10, "grade": 1}]
    probs = [np.array([0.9, 0.9, 0.9]), np.array([0.9] * 6 + [0.1] * 2)]
    counts = graded_counts(rows, probs, 0.5, 0.36)
    assert counts.tolist() == [1, 6]  # off-skin and below-operating-point lesions are not graded
    f = figures(counts, rows)
    assert f["count_mae"] == 2.0 and f["grade_accuracy"] == 1.0 and f["confusion"][1][1] == 1


@pytest.mark.skipif(not (DATA / "voc").is_dir(), reason="real data ../shared/data/acne04-640 absent")
def test_training_script_runs_on_a_few_real_photos(tmp_path):
    from acnekit.detector.graded import DEFAULT_GRADED
    from acnekit.detector.graded_select_train import main

    lists = {}
    for split in ("train", "val"):
        lists[split] = tmp_path / f"{split}.txt"
        lists[split].write_text("\n".join((DATA / f"{split}.txt").read_text().split()[:3]))
    rc = main(["--images", str(DATA / "images"), "--voc", str(DATA / "voc"), "--train-list", str(lists["train"]),
               "--val-list", str(lists["val"]), "--out", str(tmp_path / "out"), "--members", "1", "--hidden", "2",
               "--oof", f"{DEFAULT_GRADED}={lists['train']}"])  # the plumbing of out-of-fold heads
    assert rc == 0
    card = json.loads((tmp_path / "out" / "acnekit-graded.json").read_text())
    assert Selector.from_card(card["selector"]).op_threshold == card["selector"]["op_threshold"]
    assert 0 < card["graded_threshold"] < 1 and card["val"]["photos"] == 3
    assert card["selector_training"]["args"]["oof"] == [f"{DEFAULT_GRADED}={lists['train']}"]
