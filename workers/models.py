"""Default models of the built-in tasks. Each returns logits ``(B, C)``."""

from __future__ import annotations

import math

from torch import Tensor, nn


class MLP(nn.Module):
    """Flatten -> [Linear -> ReLU] x len(hidden) -> Linear; for vectors (and flattened arrays)."""

    def __init__(self, input_shape: tuple[int, ...], num_classes: int, hidden: tuple[int, ...] = (256, 256)) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = math.prod(input_shape)
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU()]
            width = size
        layers.append(nn.Linear(width, num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class SmallCNN(nn.Module):
    """Two conv blocks and a linear head for ``(1, 28, 28)`` images (Fashion-MNIST)."""

    def __init__(self, input_shape: tuple[int, ...], num_classes: int) -> None:
        super().__init__()
        channels = input_shape[0] if len(input_shape) == 3 else 1
        self.features = nn.Sequential(
            nn.Conv2d(channels, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        )
        side = input_shape[-1] // 4
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(64 * side * side, 128), nn.ReLU(), nn.Linear(128, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim == 3:
            x = x.unsqueeze(1)
        return self.head(self.features(x))


def build_mlp(input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    return MLP(input_shape, num_classes)


def build_small_cnn(input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    return SmallCNN(input_shape, num_classes)
