"""Training loop for `CircleNet` on real photos.

- Config: `TrainConfig` from a YAML file plus overrides; the resolved config is written to
  ``<out>/config.yaml`` before the first step.
- Seeded: the batch of step ``t`` on rank ``k`` comes from ``numpy.random.default_rng([seed, k, t])``,
  so a resumed run sees the same batches as an uninterrupted one, with or without loader
  workers (`batches.step_batches`).
- Periodic validation on the val photos with acnekit's own metrics; the checkpoint with the
  best val AP50 is kept as ``best.safetensors`` (+ model card ``best.json``); ``last.ckpt``
  holds what resuming needs.
- ``ema_decay`` > 0: an exponential moving average of the weights (`ema.WeightEMA`) is the
  copy that is validated and saved; the live weights keep training.
- CPU (bf16 autocast when asked) or CUDA (fp16 autocast + GradScaler); DDP under ``torchrun``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
import yaml

from acnekit.atomic import atomic_write_bytes, atomic_write_text
from acnekit.detector.batches import step_batches
from acnekit.detector.data import AugmentConfig, Sample, load_samples, read_name_list
from acnekit.detector.ema import WeightEMA
from acnekit.detector.infer import DEFAULT_CARD, Detector, load_weights
from acnekit.detector.loss import losses
from acnekit.detector.network import CircleNet, load_imagenet_backbone
from acnekit.errors import AcneKitError, short_repr

log = logging.getLogger("acnekit.train")


@dataclass
class TrainConfig:
    annotations: str = "../shared/data/acne04v2/Acne04-v2_annotations.json"
    images: str = "../shared/data/acne04-640/images"
    train_list: str = "../shared/data/acne04-640/train.txt"
    val_list: str = "../shared/data/acne04-640/val.txt"
    out: str = "runs/circlenet"
    steps: int = 3000
    max_minutes: float = 0.0  # >0: also end (and anneal the LR) when this much wall time has passed
    freeze_layers: int = 0  # first N backbone layers keep their ImageNet weights and BN statistics
    batch: int = 16
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup: int = 150
    val_every: int = 1000
    val_limit: int = 0  # 0 = all val photos
    log_every: int = 20
    seed: int = 0
    pretrained: bool = True
    ema_decay: float = 0.0  # >0: validate and save an exponential moving average of the weights
    init_from: str = ""  # safetensors of a CircleNet of the same width to fine-tune from (replaces `pretrained`)
    bf16: bool = False  # CPU bf16 autocast: pays only with native bf16 (avx512_bf16, AMX); CUDA always uses fp16 autocast
    device: str = "auto"
    threads: int = 0  # torch CPU threads, 0 = torch default
    workers: int = 0  # processes making batches ahead of the training step (0: in the training process)
    width: int = 64
    head_width: int = 32
    loss_weights: dict = field(default_factory=lambda: {"heatmap": 1.0, "radius": 1.0, "offset": 1.0})
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    name: str = "acnekit-circlenet"

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise AcneKitError(f"unknown config keys {sorted(unknown)}; known: {sorted(names)}")
        d = dict(d)
        if isinstance(d.get("augment"), dict):
            aug_names = {f.name for f in fields(AugmentConfig)}
            bad = set(d["augment"]) - aug_names
            if bad:
                raise AcneKitError(f"unknown augment keys {sorted(bad)}; known: {sorted(aug_names)}")
            d["augment"] = AugmentConfig(**d["augment"])
        ema = d.get("ema_decay", 0.0)
        if not isinstance(ema, (int, float)) or not 0.0 <= ema < 1.0:
            raise AcneKitError(f"ema_decay must be a number in [0, 1) (0: off), got {short_repr(ema)}", where="ema_decay")
        return cls(**d)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_config(path: str | None, overrides: dict[str, Any]) -> TrainConfig:
    base: dict[str, Any] = {}
    if path:
        try:
            base = yaml.safe_load(Path(path).read_text()) or {}
        except FileNotFoundError:
            raise AcneKitError("config file not found", path=path) from None
        except yaml.YAMLError as exc:
            raise AcneKitError(f"invalid YAML ({exc})", path=path) from None
        if not isinstance(base, dict):
            raise AcneKitError("config must be a YAML mapping", path=path)
    for key, value in overrides.items():
        if key.startswith("augment."):
            base.setdefault("augment", {})[key.split(".", 1)[1]] = value
        else:
            base[key] = value
    return TrainConfig.from_dict(base)


def parse_override(text: str) -> tuple[str, Any]:
    """``key=value`` with the value parsed as YAML (numbers, booleans, strings)."""
    if "=" not in text:
        raise AcneKitError(f"override must look like key=value, got {text!r}")
    key, value = text.split("=", 1)
    return key.strip(), yaml.safe_load(value)


# ---------------------------------------------------------------------------- distributed
def _dist_info() -> tuple[int, int, int]:
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0))


def _device(cfg: TrainConfig, local_rank: int) -> torch.device:
    if cfg.device == "auto":
        return torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() else torch.device("cpu")
    return torch.device(cfg.device)


# ---------------------------------------------------------------------------- validation
def predict_samples(detector: Detector, samples: list[Sample]):
    """(ground truth, predictions at the model's score floor) as datasets over ``samples``."""
    from acnekit.dataset import AcneDataset, ImageRecord

    gt_imgs, pred_imgs = [], []
    for i, s in enumerate(samples):
        h, w = s.image.shape[:2]
        gt_imgs.append(ImageRecord(i, s.name, w, h, s.circles))
        pred_imgs.append(ImageRecord(i, s.name, w, h, detector.predict(s.image, score_thr=detector.card["min_score"])))
    return AcneDataset(gt_imgs), AcneDataset(pred_imgs)


def validate(detector: Detector, samples: list[Sample], score_thr: float | None = None) -> dict[str, Any]:
    """Detect on the val photos at the model's score floor and evaluate with `acnekit.metrics`
    (counts and P/R/F1 at ``score_thr``; None: the best-F1 threshold)."""
    from acnekit.metrics.evaluate import evaluate

    return evaluate(*predict_samples(detector, samples), score_thr=score_thr)


def summarise(report: dict[str, Any]) -> dict[str, float]:
    """The few figures used for model selection and logs."""
    det = report["detection"]
    best = det.get("best_f1") or {}
    return {
        "ap50": float(det["ap50"]),
        "ap": float(det.get("ap50_95", float("nan"))),
        "best_f1": float(best.get("f1", float("nan"))),
        "best_f1_threshold": float(best.get("threshold", float("nan"))),
        "count_mae": float(report["counting"]["mae"]),
    }


# ---------------------------------------------------------------------------- loop
def progress_at(step: int, elapsed_s: float, cfg: TrainConfig) -> float:
    """Fraction of the run done: by steps, or by wall time when ``max_minutes`` is set
    (whichever is further along)."""
    p = step / max(1, cfg.steps)
    if cfg.max_minutes > 0:
        p = max(p, elapsed_s / (cfg.max_minutes * 60.0))
    return min(1.0, p)


def lr_at(step: int, progress: float, cfg: TrainConfig) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine decay to 2% over the run's progress."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    return cfg.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * progress)))


def model_card(cfg: TrainConfig, extra: dict[str, Any]) -> dict[str, Any]:
    card = json.loads(json.dumps(DEFAULT_CARD))
    card.update({"name": cfg.name, "arch": {"width": cfg.width, "head_width": cfg.head_width}})
    card.update(extra)
    return card


def save_weights(model: torch.nn.Module, path: Path, card: dict[str, Any]) -> None:
    from safetensors.torch import save

    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    atomic_write_bytes(path, save(state), overwrite=True)
    atomic_write_text(path.with_suffix(".json"), json.dumps(card, indent=2), overwrite=True)


def train(cfg: TrainConfig, resume: bool = False, show_progress: bool = True) -> dict[str, Any]:
    rank, world, local_rank = _dist_info()
    device = _device(cfg, local_rank)
    if world > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    if rank == 0:
        atomic_write_text(out / "config.yaml", yaml.safe_dump(cfg.to_dict(), sort_keys=False), overwrite=True)

    from acnekit.dataset import load_dataset

    ds, repairs = load_dataset(cfg.annotations, fix=True)
    if repairs and rank == 0:
        log.warning("%s: %d invalid circles dropped (see `acnekit validate`)", cfg.annotations, len(repairs))
    train_samples = load_samples(ds, cfg.images, read_name_list(cfg.train_list))
    val_names = read_name_list(cfg.val_list) if cfg.val_list else []
    if cfg.val_limit:
        val_names = val_names[: cfg.val_limit]
    val_samples = load_samples(ds, cfg.images, val_names) if (rank == 0 and val_names) else []

    model = CircleNet(width=cfg.width, head_width=cfg.head_width)
    if cfg.init_from and not resume:
        load_weights(model, cfg.init_from, what="init_from weights")
    elif cfg.pretrained and not resume:
        load_imagenet_backbone(model)
    frozen = model.backbone[: cfg.freeze_layers]
    for p in frozen.parameters():
        p.requires_grad_(False)
    model.to(device=device, memory_format=torch.channels_last)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.lr,
                            weight_decay=cfg.weight_decay)
    ema = WeightEMA(model, cfg.ema_decay) if cfg.ema_decay > 0 else None
    start, best, history, spent = 0, {"ap50": -1.0}, [], 0.0
    ckpt = out / "last.ckpt"
    if resume:
        if not ckpt.exists():
            raise AcneKitError("nothing to resume: no last.ckpt", path=out)
        state = torch.load(ckpt, map_location=device, weights_only=True)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        start, best = int(state["step"]), json.loads(state["best"])
        spent = float(state.get("elapsed_s", 0.0))
        history = json.loads(state["history"])
        if ema is not None:
            if "ema" not in state:
                raise AcneKitError("cannot resume with ema_decay: last.ckpt holds no weight average", path=ckpt)
            ema.load_state_dict(state["ema"])
    net = model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[local_rank] if device.type == "cuda" else None)
    scaler = torch.amp.GradScaler("cuda", enabled=device.type == "cuda")
    amp = dict(device_type=device.type, dtype=torch.float16 if device.type == "cuda" else torch.bfloat16,
               enabled=(device.type == "cuda") or cfg.bf16)

    bar = None
    if show_progress and rank == 0:
        from tqdm import tqdm

        bar = tqdm(total=cfg.steps, initial=start, desc="train", unit="step", dynamic_ncols=True)
    t0, running = time.time() - spent, {}
    batches = step_batches(train_samples, cfg.augment, cfg.batch, cfg.seed, rank, start, cfg.steps, model.stride,
                           cfg.workers)
    for step, (crops, maps) in zip(range(start, cfg.steps), batches):
        progress = progress_at(step, time.time() - t0, cfg)
        x = torch.from_numpy(crops).permute(0, 3, 1, 2).float().to(device).contiguous(memory_format=torch.channels_last)
        tgt = {k: torch.from_numpy(v).to(device) for k, v in maps.items()}
        for g in opt.param_groups:
            g["lr"] = lr_at(step, progress, cfg)
        model.train()
        frozen.eval()
        with torch.autocast(**amp):
            heads = net(x)
        terms = losses({k: v.float() for k, v in heads.items()}, tgt, cfg.loss_weights)
        opt.zero_grad(set_to_none=True)
        scaler.scale(terms["total"]).backward()
        scaler.unscale_(opt)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        scaler.step(opt)
        scaler.update()
        if ema is not None:
            ema.update(model)
        for k, v in terms.items():
            fv = float(v.detach())
            running[k] = 0.9 * running.get(k, fv) + 0.1 * fv
        if bar is not None:
            bar.update(1)
            bar.set_postfix({k: f"{v:.3f}" for k, v in running.items()})
        done = step + 1
        last = done == cfg.steps or progress_at(done, time.time() - t0, cfg) >= 1.0
        if world > 1:  # all ranks stop together: rank 0's clock decides
            flag = torch.tensor([float(last)], device=device)
            torch.distributed.broadcast(flag, 0)
            last = bool(flag.item())
        if rank == 0 and (done % cfg.log_every == 0 or last):
            rec = {"step": done, "lr": opt.param_groups[0]["lr"], "elapsed_s": round(time.time() - t0, 1),
                   **{k: round(v, 4) for k, v in running.items()}}
            _append_jsonl(out / "log.jsonl", rec)
        if rank == 0 and (done % cfg.val_every == 0 or last):
            entry = {"step": done}
            kept = ema.model if ema is not None else model  # the weights that are validated and saved
            if val_samples:
                card = model_card(cfg, {})
                kept.eval()
                summary = summarise(validate(Detector(kept, card), val_samples))
                entry.update(summary)
                if summary["ap50"] > best["ap50"]:
                    best = entry
                    thr = summary["best_f1_threshold"]
                    extra = {"score_threshold": round(thr, 3)} if math.isfinite(thr) else {}
                    card = model_card(cfg, {**extra, "training": {"step": done, "val": summary}})
                    save_weights(kept, out / "best.safetensors", card)
            else:
                save_weights(kept, out / "best.safetensors", model_card(cfg, {"training": {"step": done}}))
                best = entry
            history.append(entry)
            _append_jsonl(out / "val.jsonl", entry)
            if bar is not None:
                bar.write(f"step {done}: " + ", ".join(f"{k} {v:.4f}" for k, v in entry.items() if k != "step"))
            state = {"model": model.state_dict(), "optimizer": opt.state_dict(), "step": done,
                     "best": json.dumps(best), "history": json.dumps(history), "elapsed_s": time.time() - t0}
            if ema is not None:
                state["ema"] = ema.state_dict()
            tmp = out / "last.ckpt.tmp"
            torch.save(state, tmp)
            os.replace(tmp, ckpt)
        if last:
            break
    del batches  # stops loader workers, if any
    if bar is not None:
        bar.close()
    if world > 1:
        torch.distributed.barrier()
    return {"best": best, "history": history, "out": str(out)}


def _append_jsonl(path: Path, rec: dict[str, Any]) -> None:
    with open(path, "a") as fh:
        fh.write(json.dumps(rec) + "\n")
