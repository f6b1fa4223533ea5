"""The graded head: trained briefly on synthetic photos where only the conspicuous discs are
reference boxes, it scores those above the faint ones; its pieces on hand-made inputs."""

import json

import numpy as np
import pytest
import torch

from acnekit.circles import Circles
from acnekit.detector.graded import GradedHead, circle_scores, load_graded
from acnekit.detector.graded_train import GradedConfig, train_graded
from acnekit.detector.infer import Detector
from acnekit.detector.network import CircleNet
from acnekit.errors import ModelError
from acnekit.imageio import read_image
from _synthetic import write_graded_dataset


def test_circle_scores_read_the_window_max():
    logits = torch.full((1, 1, 20, 20), -10.0)
    logits[0, 0, 5, 5] = 10.0  # a peak at cell (5, 5) = pixel (10..12, 10..12)
    c = Circles([[11, 11], [14, 11], [15, 11], [30, 30]], [2, 4, 2, 2])
    s = circle_scores(logits, c, stride=2)
    assert s[0] > 0.99 and s[1] > 0.99  # (14, 11) r 4 is cell (7, 5): its 5x5 window holds the peak
    assert s[2] < 1e-3  # r 2: a 3x3 window, which does not
    assert s[3] < 1e-3
    assert circle_scores(logits, Circles.empty(), 2).shape == (0,)


def test_zero_box_photo_gives_finite_loss_and_gradients():
    from acnekit.detector.graded import boxes_to_targets
    from acnekit.detector.loss import focal_loss

    head = GradedHead(cin=8, width=8, depth=1)
    logits = head(torch.randn(1, 8, 16, 16))
    target = torch.from_numpy(boxes_to_targets(Circles.empty(), (16, 16), 2))[None]
    loss = focal_loss(logits, target)
    loss.backward()
    assert torch.isfinite(loss) and all(p.grad is not None for p in head.parameters())


def _base_network(photos: list[np.ndarray]) -> CircleNet:
    """An untrained CircleNet whose BatchNorm statistics are set on ``photos`` (plain random
    weights give near-constant head features; with data statistics they carry colour)."""
    net = CircleNet()
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = None
            m.reset_running_stats()
    net.train()
    with torch.no_grad():
        net.features(torch.stack([torch.from_numpy(p).permute(2, 0, 1).float() for p in photos]))
    return net.eval()


@pytest.mark.parametrize("hflip", [False, True])
def test_graded_head_learns_to_count_conspicuous_discs(tmp_path, hflip):
    torch.manual_seed(0)
    data = write_graded_dataset(tmp_path / "data", n_images=6, size=96)
    names = sorted(data["truth"])
    photos = [read_image(data["images"] / n) for n in names]
    detector = Detector(_base_network(photos), {"name": "synthetic-base", "working_scale": {
        "rule": "area", "area": 96 * 96, "max_side": 1024, "tile": 640, "overlap": 96}})
    cfg = GradedConfig(images=str(data["images"]), voc=str(data["voc"]), train_list=str(data["train_list"]),
                       val_list=str(data["val_list"]), out=str(tmp_path / "run"), epochs=30, batch=2, lr=1e-2,
                       width=16, depth=1, hflip=hflip, name="test-head")
    card = train_graded(cfg, detector=detector)
    assert card["name"] == "test-head" and card["training"]["config"]["hflip"] is hflip
    assert card["base_model"] == "synthetic-base" and 0 < card["graded_threshold"] < 1
    assert not list((tmp_path / "run").glob("features-*"))  # the feature cache is removed
    head, gcard = load_graded(tmp_path / "run" / "graded.safetensors")
    assert gcard["graded_threshold"] == card["graded_threshold"]
    graded = Detector(detector.model, detector.card, graded=head, graded_card=gcard)
    scores = {}
    for name, rgb in zip(names, photos):
        strong, faint = data["truth"][name]
        s = circle_scores(graded.heads(rgb)["graded"][0], Circles.concat([strong, faint]), 2)
        assert s[:3].min() > s[3:].max(), (name, s)  # every conspicuous disc above every faint one
        scores[name] = s
    train = [n for n in names if n in data["train_list"].read_text().split()]
    # a count threshold from the training photos counts exactly the 3 conspicuous discs on the held-out ones
    t = (np.mean([scores[n][:3].min() for n in train]) + np.mean([scores[n][3:].max() for n in train])) / 2
    for name in set(names) - set(train):
        assert int((scores[name] >= t).sum()) == 3 and (scores[name][:3] >= t).all(), (name, scores[name], t)


def test_load_graded_refuses_another_models_head(tmp_path):
    from safetensors.torch import save_file

    head = GradedHead()
    save_file(head.state_dict(), str(tmp_path / "g.safetensors"))
    (tmp_path / "g.json").write_text(json.dumps({"base_model": "other", "graded_threshold": 0.4}))
    save_file(CircleNet().state_dict(), str(tmp_path / "m.safetensors"))
    (tmp_path / "m.json").write_text(json.dumps({"name": "mine"}))
    with pytest.raises(ModelError, match="trained on the features of 'other'"):
        Detector.load(tmp_path / "m.safetensors", graded=tmp_path / "g.safetensors")
    assert Detector.load(tmp_path / "m.safetensors").graded is None  # auto: the shipped head is not for 'mine'


def test_mirrored_samples_carry_mirrored_boxes():
    from acnekit.detector.graded_train import mirrored

    rgb = np.zeros((4, 10, 3), np.uint8)
    rgb[:, 1] = 255  # a bright column at x = 1 (pixel centres at x + 0.5)
    (_, flipped, boxes), = mirrored([("p", rgb, Circles([[1.5, 2.0]], [1.0]))])
    assert flipped[:, 8].min() == 255 and flipped[:, 1].max() == 0
    assert boxes.xy.tolist() == [[8.5, 2.0]] and boxes.radius.tolist() == [1.0]
