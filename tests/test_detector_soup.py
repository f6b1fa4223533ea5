"""Weight averaging and BatchNorm recomputation (CPU, seconds; synthetic data)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from acnekit.detector.network import CircleNet
from acnekit.detector.soup import average_state_dicts, recompute_batchnorm
from acnekit.errors import ModelError


def _state(seed: int, **kw) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    return CircleNet(**kw).state_dict()


def test_average_is_the_uniform_mean_of_float_entries():
    a, b, c = _state(0), _state(1), _state(2)
    b["backbone.0.1.num_batches_tracked"] = torch.tensor(5)
    avg = average_state_dicts([a, b, c])
    w = "head.log_radius.weight"
    assert torch.allclose(avg[w], (a[w] + b[w] + c[w]) / 3, atol=1e-7)
    assert int(avg["backbone.0.1.num_batches_tracked"]) == int(a["backbone.0.1.num_batches_tracked"])
    assert avg.keys() == a.keys() and all(avg[k].dtype == a[k].dtype for k in a)
    model = CircleNet()
    model.load_state_dict(avg)  # loads strictly
    assert average_state_dicts([a])[w].equal(a[w])


def test_averaging_different_networks_is_a_clear_error():
    with pytest.raises(ModelError, match="shape") as info:
        average_state_dicts([_state(0), _state(1, width=32)], ["a.safetensors", "narrow.safetensors"])
    assert "narrow.safetensors" in str(info.value)
    other = dict(_state(1))
    other.pop("head.heatmap.bias")
    with pytest.raises(ModelError, match="other parameter names"):
        average_state_dicts([_state(0), other])
    with pytest.raises(ModelError, match="nothing to average"):
        average_state_dicts([])


def test_recomputed_batchnorm_matches_the_statistics_of_the_images():
    torch.manual_seed(0)
    model = CircleNet().eval()
    bn = model.backbone[0][1]  # the first BatchNorm sees the normalised input convolved once
    rng = np.random.default_rng(0)
    images = [(rng.random((64, 64, 3)) * 255).astype(np.uint8) for _ in range(5)]
    seen = recompute_batchnorm(model, iter(images), batch=2)
    assert seen == 5 and not model.training and bn.momentum == 0.1  # momentum restored
    with torch.no_grad():  # the first conv's output over all images: its per-channel mean
        x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float()
        x = (x - model.mean) / model.std
        feats = model.backbone[0][0](x)
    # batches of 2, 2, 1 averaged with equal weight (cumulative moving average per batch)
    per_batch = [feats[i:i + 2].mean(dim=(0, 2, 3)) for i in (0, 2, 4)]
    assert torch.allclose(bn.running_mean, sum(per_batch) / 3, atol=1e-4)
    with pytest.raises(ModelError, match="no images"):
        recompute_batchnorm(model, iter([]))


def test_average_weights_tool_writes_a_shippable_run_folder(tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    import yaml
    from safetensors.torch import load_file

    from acnekit.detector.train import TrainConfig, model_card, save_weights

    tool = Path(__file__).resolve().parents[1] / "tools" / "average_weights.py"
    paths = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        save_weights(CircleNet().eval(), tmp_path / f"w{seed}.safetensors", model_card(TrainConfig(), {}))
        paths.append(tmp_path / f"w{seed}.safetensors")
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump(TrainConfig().to_dict()))
    out = tmp_path / "soup"
    done = subprocess.run([sys.executable, str(tool), *map(str, paths), "--config", str(cfg), "--out", str(out)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    avg = load_file(str(out / "best.safetensors"))
    a, b = (load_file(str(p)) for p in paths)
    assert torch.allclose(avg["head.heatmap.weight"], (a["head.heatmap.weight"] + b["head.heatmap.weight"]) / 2)
    soup = json.loads((out / "soup.json").read_text())
    assert [i["path"] for i in soup["ingredients"]] == [str(p) for p in paths] and soup["batchnorm"] == "averaged"
    assert (out / "config.yaml").exists()
    # a missing ingredient: one clear line naming it, nothing written
    done = subprocess.run([sys.executable, str(tool), str(paths[0]), str(tmp_path / "gone.ckpt"), "--config",
                           str(cfg), "--out", str(tmp_path / "other")], capture_output=True, text=True)
    assert done.returncode == 2 and "gone.ckpt" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "other").exists()
    (tmp_path / "junk.safetensors").write_bytes(b"junk")
    done = subprocess.run([sys.executable, str(tool), str(paths[0]), str(tmp_path / "junk.safetensors"), "--config",
                           str(cfg), "--out", str(tmp_path / "other")], capture_output=True, text=True)
    assert done.returncode == 2 and "junk.safetensors" in done.stderr and "not a readable" in done.stderr
    assert not (tmp_path / "other").exists()
