import numpy as np
import pytest
import torch
from torch import nn

from acnekit.detector.fuse import fold_batchnorm
from acnekit.detector.infer import Detector
from acnekit.detector.network import CircleNet
from acnekit.detector.train import TrainConfig, model_card, save_weights


def _model_with_random_bn_stats(seed: int = 0) -> CircleNet:
    torch.manual_seed(seed)
    model = CircleNet()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    return model.eval()


def test_folded_copy_has_no_batchnorm_and_the_same_heads():
    model = _model_with_random_bn_stats()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    folded = fold_batchnorm(model)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # input untouched
    x = torch.rand(2, 3, 64, 96) * 255
    with torch.no_grad():
        a, b = model(x), folded(x)
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-4, rtol=1e-4), k


def test_fold_keeps_an_existing_conv_bias():
    conv, bn = nn.Conv2d(3, 4, 3, padding=1, bias=True), nn.BatchNorm2d(4)
    bn.running_mean.fill_(0.3)
    bn.running_var.fill_(2.0)
    seq = nn.Sequential(conv, bn).eval()
    x = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        assert torch.allclose(seq(x), fold_batchnorm(seq)(x), atol=1e-6)


def test_loaded_detector_folds_batchnorm_and_finds_the_same_circles(tmp_path):
    model = _model_with_random_bn_stats(1)
    save_weights(model, tmp_path / "m.safetensors", model_card(TrainConfig(), {"score_threshold": 0.0}))
    folded = Detector.load(tmp_path / "m.safetensors")
    plain = Detector.load(tmp_path / "m.safetensors", fold_bn=False)
    assert folded.net is not folded.model and plain.net is plain.model
    folded.card["bf16"] = plain.card["bf16"] = False
    rgb = (np.random.default_rng(0).random((64, 96, 3)) * 255).astype(np.uint8)
    a, b = folded.heads(rgb), plain.heads(rgb)
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-4, rtol=1e-4), k
    ca, cb = plain.predict(rgb, 0.0), folded.predict(rgb, 0.0)
    assert len(ca) == len(cb)
    np.testing.assert_allclose(ca.xy, cb.xy, atol=1e-3)


@pytest.mark.parametrize("fold", [False, True])
def test_training_detector_tracks_the_live_model(fold):
    model = _model_with_random_bn_stats(2)
    det = Detector(model, fold_bn=fold)
    assert (det.net is det.model) is (not fold)
