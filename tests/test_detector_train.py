"""Training, checkpoints, inference plumbing, ONNX, DDP (CPU, seconds; synthetic data)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch

from acnekit.circles import Circles
from acnekit.detector.infer import Detector
from acnekit.detector.loss import losses
from acnekit.detector.network import CircleNet
from acnekit.detector.targets import encode_batch
from acnekit.detector.train import TrainConfig, load_config, model_card, save_weights, train
from acnekit.errors import ModelError

from _synthetic import disc_photo, random_circles, write_dataset


def test_few_steps_lower_loss_and_find_the_discs():
    torch.manual_seed(0)
    c = random_circles(96, 96, 4, seed=1, rmin=4, rmax=7)
    x = torch.from_numpy(disc_photo(96, 96, c)).permute(2, 0, 1)[None].float()
    t = {k: torch.from_numpy(v) for k, v in encode_batch([c], (48, 48)).items()}
    model = CircleNet()
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    first = None
    for _ in range(120):
        model.train()
        terms = losses(model(x), t)
        opt.zero_grad()
        terms["total"].backward()
        opt.step()
        first = float(terms["total"].detach()) if first is None else first
    assert float(terms["total"].detach()) < 0.5 * first
    model.eval()
    det = Detector(model, {"bf16": False, "min_score": 0.05, "working_scale": {
        "rule": "area", "area": 96 * 96, "max_side": 1024, "tile": 640, "overlap": 96}})
    found = det.predict(disc_photo(96, 96, c), score_thr=0.3)
    assert len(found) >= len(c)
    top = found[np.argsort(-found.score)[: len(c)]]
    d = np.hypot(top.xy[:, None, 0] - c.xy[None, :, 0], top.xy[:, None, 1] - c.xy[None, :, 1])
    assert (d.min(axis=0) < 2.0).all()  # every disc has a confident circle on it


def test_checkpoint_round_trip_gives_identical_outputs(tmp_path):
    torch.manual_seed(0)
    model = CircleNet().eval()
    card = model_card(TrainConfig(), {"score_threshold": 0.4})
    save_weights(model, tmp_path / "m.safetensors", card)
    loaded = Detector.load(tmp_path / "m.safetensors", fold_bn=False)
    assert loaded.score_threshold == 0.4 and json.loads((tmp_path / "m.json").read_text())["name"] == card["name"]
    original = Detector(model)  # same memory layout as the loaded one
    rgb = (np.random.default_rng(0).random((64, 96, 3)) * 255).astype(np.uint8)
    a, b = original.heads(rgb), loaded.heads(rgb)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_missing_or_corrupt_model_is_a_clear_error(tmp_path):
    from acnekit.errors import ModelError

    with pytest.raises(ModelError, match="not found"):
        Detector.load(tmp_path / "nope.safetensors")
    (tmp_path / "bad.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ModelError, match="cannot load"):
        Detector.load(tmp_path / "bad.safetensors")


def test_photo_mapped_back_to_its_own_pixels():
    """A photo 3x the working scale: circles come back in the photo's pixels."""

    class Fixed(Detector):
        def predict_working_batch(self, batch):
            h, w = batch.shape[1:3]
            return [Circles([[w / 2, h / 4]], [5.0], [0.9]) for _ in batch]

    det = Fixed(CircleNet(), {"working_scale": {"rule": "area", "area": 100 * 80, "max_side": 1024,
                                                 "tile": 640, "overlap": 96}})
    c = det.predict(np.zeros((240, 300, 3), np.uint8), score_thr=0.5)
    np.testing.assert_allclose(c.xyr, [[150.0, 60.0, 15.0]])


def test_batched_prediction_equals_one_photo_at_a_time():
    """Photos of mixed sizes (two share a working size, one is tiled) give the same circles
    through `predict_many` as through `predict` one by one."""
    torch.manual_seed(0)
    det = Detector(CircleNet(), {"bf16": False, "min_score": 0.0, "max_detections": 50, "working_scale": {
        "rule": "area", "area": 96 * 128, "max_side": 160, "tile": 96, "overlap": 32}})
    photos = [disc_photo(96, 128, random_circles(96, 128, 3, seed=1)),
              disc_photo(192, 256, random_circles(192, 256, 3, seed=2)),  # same working size as the first
              disc_photo(40, 300, random_circles(40, 300, 3, seed=3))]  # working image 200 wide: tiled
    many = det.predict_many(photos, score_thr=0.0)
    for rgb, got in zip(photos, many):
        one = det.predict(rgb, score_thr=0.0)
        assert len(got) == len(one) > 0
        np.testing.assert_allclose(got.xyr, one.xyr, rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(got.score, one.score, atol=1e-5)


def test_resized_photos_are_jpeg_round_tripped_like_the_training_copies():
    from acnekit.detector.infer import jpeg_round_trip
    from acnekit.imageio import resize_rgb

    det = Detector(CircleNet(), {"working_scale": {"rule": "area", "area": 64 * 48, "max_side": 1024,
                                                    "tile": 640, "overlap": 96}})
    at_scale = disc_photo(48, 64, random_circles(48, 64, 2))
    assert det.working_image(at_scale) is at_scale  # already at the working scale: untouched
    big = disc_photo(96, 128, random_circles(96, 128, 3))
    plain = resize_rgb(big, 64, 48)
    got = det.working_image(big)
    assert got.shape == (48, 64, 3) and np.array_equal(got, jpeg_round_trip(plain, 75))
    assert not np.array_equal(got, plain)
    det.card["working_jpeg_quality"] = None
    assert np.array_equal(det.working_image(big), plain)


def test_face_rule_round_trip_follows_the_source_compression():
    from acnekit.detector.infer import COMPRESSED_MIN_SCALE, COMPRESSED_SOURCE_Q, FACE_JPEG_BELOW, jpeg_round_trip
    from acnekit.imageio import resize_rgb

    det = Detector(CircleNet(), {"working_scale": {"rule": "area", "area": 64 * 48, "max_side": 1024,
                                                    "tile": 640, "overlap": 96}})
    big = disc_photo(96, 128, random_circles(96, 128, 3))
    s = 0.7  # between COMPRESSED_MIN_SCALE and FACE_JPEG_BELOW
    assert COMPRESSED_MIN_SCALE < s < FACE_JPEG_BELOW
    plain = resize_rgb(big, round(128 * s), round(96 * s))
    tripped = jpeg_round_trip(plain, 75)
    assert np.array_equal(det.working_image(big, s), tripped)  # unknown source: round trip
    assert np.array_equal(det.working_image(big, s, source_quality=95), tripped)  # sharp camera JPEG
    assert np.array_equal(det.working_image(big, s, source_quality=COMPRESSED_SOURCE_Q), plain)  # compressed already
    small = resize_rgb(big, 48, 36)  # 0.375: the source's own artefacts shrink away: round trip again
    assert np.array_equal(det.working_image(big, 0.375, source_quality=75), jpeg_round_trip(small, 75))
    assert np.array_equal(det.working_image(big, 0.375), jpeg_round_trip(small, 75))


def test_tta_switch():
    det = Detector(CircleNet(), {"tta_flip": True})
    det.set_tta("model")
    assert det.card["tta_flip"] is True
    det.set_tta("off")
    assert det.card["tta_flip"] is False
    det.set_tta("on")
    assert det.card["tta_flip"] is True
    with pytest.raises(ModelError, match="'sometimes'"):
        det.set_tta("sometimes")


@pytest.mark.parametrize("tta", [False, True])
def test_onnx_and_torch_agree(tmp_path, tta):
    pytest.importorskip("onnxruntime")
    from acnekit.detector.export import OnnxDetector, export_onnx

    torch.manual_seed(0)
    det = Detector(CircleNet(), {"bf16": False, "min_score": 0.0, "tta_flip": tta, "working_jpeg_quality": None})
    export_onnx(det, tmp_path / "m.onnx")
    ort_det = OnnxDetector(tmp_path / "m.onnx", det.card)
    rgb = disc_photo(150, 230, random_circles(150, 230, 5))
    a, b = det.predict(rgb, score_thr=0.0), ort_det.predict(rgb, score_thr=0.0)
    assert len(a) == len(b) > 0
    # the same circles; order may differ among near-equal scores, so compare sorted by position
    oa, ob = np.lexsort(np.round(a.xyr, 2).T[::-1]), np.lexsort(np.round(b.xyr, 2).T[::-1])
    np.testing.assert_allclose(a.xyr[oa], b.xyr[ob], atol=1e-3)
    np.testing.assert_allclose(a.score[oa], b.score[ob], atol=1e-4)


def _cfg(paths, out, **kw) -> TrainConfig:
    over = {k: str(v) for k, v in paths.items()}
    over.update(out=str(out), steps=2, batch=2, val_every=1, pretrained=False, bf16=False, warmup=1, log_every=1)
    over.update(kw)
    over["augment"] = {"crop": 64}
    return TrainConfig.from_dict(over)


def test_train_writes_config_checkpoints_and_resumes(tmp_path):
    paths = write_dataset(tmp_path / "data")
    cfg = _cfg(paths, tmp_path / "run")
    result = train(cfg, show_progress=False)
    run = tmp_path / "run"
    for name in ("config.yaml", "best.safetensors", "best.json", "last.ckpt", "log.jsonl", "val.jsonl"):
        assert (run / name).exists(), name
    assert load_config(str(run / "config.yaml"), {}).to_dict() == cfg.to_dict()
    assert [h["step"] for h in result["history"]] == [1, 2]
    # resume to 3 steps: continues from step 2
    result = train(_cfg(paths, run, steps=3), resume=True, show_progress=False)
    assert [h["step"] for h in result["history"]] == [1, 2, 3]
    Detector.load(run / "best.safetensors")


def test_training_is_reproducible_with_or_without_loader_workers(tmp_path):
    paths = write_dataset(tmp_path / "data")
    for name, workers in (("a", 0), ("b", 2)):
        train(_cfg(paths, tmp_path / name, val_list="", steps=3, workers=workers), show_progress=False)
    from safetensors.torch import load_file

    a, b = load_file(str(tmp_path / "a" / "best.safetensors")), load_file(str(tmp_path / "b" / "best.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_loader_workers_give_the_batches_of_the_same_steps_in_order(tmp_path):
    from acnekit.dataset import load_dataset
    from acnekit.detector.batches import step_batches
    from acnekit.detector.data import AugmentConfig, load_samples, read_name_list

    paths = write_dataset(tmp_path / "data")
    samples = load_samples(load_dataset(paths["annotations"]), paths["images"], read_name_list(paths["train_list"]))
    args = (samples, AugmentConfig(crop=64), 2, 7, 0, 3, 8, 2)  # seed 7, rank 0, steps 3..7, stride 2
    inline, ahead = list(step_batches(*args, workers=0)), list(step_batches(*args, workers=2))
    assert len(inline) == len(ahead) == 5
    for (c1, m1), (c2, m2) in zip(inline, ahead):
        assert np.array_equal(c1, c2) and all(np.array_equal(m1[k], m2[k]) for k in m1)
    assert not np.array_equal(inline[0][0], inline[1][0])  # the steps differ from one another


def test_unknown_config_key_is_a_clear_error():
    from acnekit.errors import AcneKitError

    with pytest.raises(AcneKitError, match="unknown config keys"):
        load_config(None, {"stepz": 3})


def test_init_from_starts_training_from_given_weights(tmp_path):
    torch.manual_seed(3)
    start = CircleNet().eval()
    save_weights(start, tmp_path / "start.safetensors", model_card(TrainConfig(), {}))
    paths = write_dataset(tmp_path / "data")
    # lr 0: one step leaves the weights as loaded (BatchNorm running statistics do move, so
    # compare convolution weights and biases only)
    train(_cfg(paths, tmp_path / "run", val_list="", steps=1, lr=0.0, init_from=str(tmp_path / "start.safetensors")),
          show_progress=False)
    from safetensors.torch import load_file

    after = load_file(str(tmp_path / "run" / "best.safetensors"))
    for name in ("backbone.0.0.weight", "lateral.16.weight", "head.heatmap.weight", "head.log_radius.bias"):
        assert torch.equal(after[name], start.state_dict()[name]), name
    torch.manual_seed(0)  # the run's seed: the weights training would have started from without init_from
    fresh = CircleNet().state_dict()
    assert not torch.equal(after["lateral.16.weight"], fresh["lateral.16.weight"])


def test_init_from_bad_weights_is_a_clear_error(tmp_path):
    from acnekit.detector.infer import load_weights
    from acnekit.errors import AcneKitError

    with pytest.raises(AcneKitError, match="not found") as info:
        load_weights(CircleNet(), tmp_path / "missing.safetensors", what="init_from weights")
    assert "missing.safetensors" in str(info.value) and "init_from" in str(info.value)
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(AcneKitError, match="not a readable safetensors"):
        load_weights(CircleNet(), tmp_path / "junk.safetensors", what="init_from weights")
    save_weights(CircleNet(width=32).eval(), tmp_path / "narrow.safetensors", model_card(TrainConfig(), {}))
    with pytest.raises(AcneKitError, match="do not fit this network"):
        load_weights(CircleNet(), tmp_path / "narrow.safetensors", what="init_from weights")


def test_ddp_two_cpu_processes(tmp_path):
    paths = write_dataset(tmp_path / "data")
    args = [f"--set={k}={v}" for k, v in paths.items()]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={port}",
           "-m", "acnekit", "train", "--out", str(tmp_path / "run"), "--steps", "2", "--batch", "2",
           "--no-progress", "--set=pretrained=false", "--set=bf16=false", "--set=augment.crop=64",
           "--set=val_every=2", "--set=warmup=1", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "run" / "best.safetensors").exists()
    assert json.loads((tmp_path / "run" / "val.jsonl").read_text().splitlines()[-1])["step"] == 2


def test_detect_cli_writes_valid_predictions_and_refuses_clashing_names(tmp_path, capsys):
    from PIL import Image

    from acnekit.cli import main
    from acnekit.validate import load_validated

    torch.manual_seed(0)
    save_weights(CircleNet().eval(), tmp_path / "m.safetensors", model_card(TrainConfig(), {"score_threshold": 0.4}))
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
        Image.fromarray(disc_photo(96, 128, random_circles(96, 128, 3))).save(tmp_path / d / "x.png")
    out = tmp_path / "pred.json"
    args = ["detect", "--model", str(tmp_path / "m.safetensors"), "--out", str(out), "--no-progress"]
    assert main([*args, str(tmp_path / "a")]) == 0
    ds, issues = load_validated(out)
    assert not issues and ds.images[0].file_name == "x.png" and (ds.images[0].width, ds.images[0].height) == (128, 96)
    assert ds.info["score_threshold"] == 0.4
    assert main([*args, "--force", str(tmp_path / "a"), str(tmp_path / "b")]) == 2
    assert "share the file name 'x.png'" in capsys.readouterr().err
    assert load_validated(out)[0].equals(ds)  # the earlier output is untouched
    # batches of two photos, flip TTA off: same photos, same order, valid output
    Image.fromarray(disc_photo(96, 128, random_circles(96, 128, 3))).save(tmp_path / "a" / "y.png")
    Image.fromarray(disc_photo(64, 64, random_circles(64, 64, 2))).save(tmp_path / "a" / "z.png")
    assert main([*args, "--force", "--batch", "2", "--tta", "off", str(tmp_path / "a")]) == 0
    ds2, issues = load_validated(out)
    assert not issues and [im.file_name for im in ds2.images] == ["x.png", "y.png", "z.png"]
    assert main([*args, "--force", "--batch", "0", str(tmp_path / "a")]) == 2
    assert "--batch" in capsys.readouterr().err


def test_shipped_recipes_load_and_each_stage_starts_from_the_one_before():
    from importlib.resources import files

    configs = files("acnekit") / "configs"
    base = load_config(str(configs / "circlenet.yaml"), {}).to_dict()
    tune = load_config(str(configs / "circlenet-finetune.yaml"), {}).to_dict()
    assert tune["init_from"] == os.path.join(base["out"], "best.safetensors")
    changed = {k for k in base if base[k] != tune[k]}
    assert changed <= {"out", "init_from", "max_minutes", "freeze_layers", "lr", "warmup", "val_every"}
    assert tune["freeze_layers"] == 0 < base["freeze_layers"]
    gpu = load_config(str(configs / "circlenet-gpu.yaml"), {}).to_dict()  # third stage, from the second
    assert gpu["init_from"] == os.path.join(tune["out"], "best.safetensors") and gpu["out"] != tune["out"]
    changed = {k for k in tune if tune[k] != gpu[k]}
    assert changed <= {"out", "init_from", "max_minutes", "lr", "warmup", "val_every", "batch", "workers",
                       "log_every", "pretrained"}


def test_weight_ema_moves_towards_the_live_weights_and_copies_counters():
    from acnekit.detector.ema import WeightEMA

    torch.manual_seed(0)
    live = CircleNet()
    ema = WeightEMA(live, decay=0.9)
    before = {k: v.clone() for k, v in ema.model.state_dict().items()}
    with torch.no_grad():
        for p in live.parameters():
            p.add_(1.0)
        live.backbone[0][1].num_batches_tracked.fill_(7)
    d = ema.current_decay()  # ramped: (1 + 0) / (10 + 0) = 0.1 on the first update
    assert d == pytest.approx(0.1)
    ema.update(live)
    now = ema.model.state_dict()
    w = "backbone.0.0.weight"
    assert torch.allclose(now[w], d * before[w] + (1 - d) * live.state_dict()[w], atol=1e-6)
    assert int(now["backbone.0.1.num_batches_tracked"]) == 7
    assert not any(p.requires_grad for p in ema.model.parameters())
    for _ in range(1000):
        ema.update(live)
    assert ema.current_decay() == 0.9  # the ramp ends at the configured decay
    assert torch.allclose(ema.model.state_dict()[w], live.state_dict()[w], atol=1e-5)


def test_training_with_ema_saves_and_resumes_the_average(tmp_path):
    from safetensors.torch import load_file

    paths = write_dataset(tmp_path / "data")
    run = tmp_path / "run"
    train(_cfg(paths, run, val_list="", steps=2, ema_decay=0.5), show_progress=False)
    ckpt = torch.load(run / "last.ckpt", weights_only=True)
    saved = load_file(str(run / "best.safetensors"))
    name = "lateral.16.weight"
    assert torch.equal(saved[name], ckpt["ema"]["model"][name])  # the average is what ships
    assert not torch.equal(saved[name], ckpt["model"][name])  # ... not the live weights
    assert ckpt["ema"]["updates"] == 2
    train(_cfg(paths, run, val_list="", steps=3, ema_decay=0.5), resume=True, show_progress=False)
    assert torch.load(run / "last.ckpt", weights_only=True)["ema"]["updates"] == 3


def test_bad_ema_decay_is_a_clear_error(tmp_path):
    from acnekit.errors import AcneKitError

    for bad in (1.0, -0.1, "fast"):
        with pytest.raises(AcneKitError, match="ema_decay"):
            load_config(None, {"ema_decay": bad})
    paths = write_dataset(tmp_path / "data")
    run = tmp_path / "run"
    train(_cfg(paths, run, val_list="", steps=1), show_progress=False)
    with pytest.raises(AcneKitError, match="no weight average"):
        train(_cfg(paths, run, val_list="", steps=2, ema_decay=0.5), resume=True, show_progress=False)
