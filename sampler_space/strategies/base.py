"""The one interface every online sampling strategy implements.

The training loop asks a strategy, step by step:

1. :meth:`Strategy.candidates` -- which training indices this step considers (default: the next
   slice of the epoch's permutation; importance sampling draws them from its own distribution).
2. :meth:`Strategy.admit` -- optionally decide *before any forward pass* which candidates to keep
   and their loss weights (NWS does this from its sketch, so rejected samples cost nothing).
3. :meth:`Strategy.select` -- if :attr:`Strategy.scores_batch`, the loop runs a no-grad forward on
   the admitted samples and passes a :class:`BatchView` (indices, labels, logits, per-sample
   losses, optionally embeddings); the strategy returns positions to train on and loss weights.
4. The loop trains on the kept samples (accumulating them to a full batch first when
   :attr:`Strategy.accumulate`), minimising ``mean(weight_i * loss_i)``, then calls
   :meth:`Strategy.observe` with the trained samples' logits and losses to update state.

All tensors live on the training device; nothing here synchronises with the host.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor


@dataclass(frozen=True)
class BatchView:
    """What a strategy may look at for one batch. Shapes: ``indices, labels, losses (B,)``,
    ``logits (B, C)``, ``embeddings (B, D)`` or ``None``. ``losses`` are per-sample cross-entropy."""

    indices: Tensor
    labels: Tensor
    logits: Tensor
    losses: Tensor
    embeddings: Tensor | None = None


@dataclass(frozen=True)
class Kept:
    """Which samples of a batch to train on: ``positions`` (K,) int64 into the batch and their
    loss ``weights`` (K,) float32."""

    positions: Tensor
    weights: Tensor

    @staticmethod
    def all(size: int, device: torch.device) -> "Kept":
        return Kept(torch.arange(size, device=device), torch.ones(size, device=device))


@dataclass
class StrategyContext:
    """Set once per training run.

    Attributes:
        num_samples: N, training set size.
        num_classes: C.
        batch_size: B, the optimiser's batch size.
        device: training device.
        generator: random generator on ``device`` (seeded by the loop).
        keys: ``(N, D)`` fixed per-sample embeddings (for NWS), or ``None``.
    """

    num_samples: int
    num_classes: int
    batch_size: int
    device: torch.device
    generator: torch.Generator
    keys: Tensor | None = None


@dataclass(frozen=True)
class ParameterInfo:
    """A strategy hyper-parameter as listed by ``GET /strategies`` and the CLI."""

    name: str
    default: Any
    description: str


class Strategy:
    """Base class: uniform training, every sample kept with weight 1. Subclasses override parts."""

    name: ClassVar[str] = "uniform"
    description: ClassVar[str] = "no selection: every sample of every minibatch is trained on"
    parameters: ClassVar[tuple[ParameterInfo, ...]] = ()
    #: the loop runs a no-grad forward on candidates and calls :meth:`select`
    scores_batch: ClassVar[bool] = False
    #: kept samples are accumulated until a full batch before one optimiser step
    accumulate: ClassVar[bool] = False
    #: the strategy wants fixed per-sample keys (``StrategyContext.keys``)
    needs_keys: ClassVar[bool] = False
    #: the strategy wants penultimate-layer embeddings in :class:`BatchView`
    needs_embeddings: ClassVar[bool] = False

    def __init__(self) -> None:
        self.context: StrategyContext | None = None
        self.step = 0
        self.epoch = 0

    def setup(self, context: StrategyContext) -> None:
        """Called once before training."""
        self.context = context

    def begin_epoch(self, epoch: int) -> None:
        """Called at the start of each epoch (1-based)."""
        self.epoch = epoch

    def end_epoch(self, epoch: int) -> None:
        """Called at the end of each epoch."""

    def epoch_order(self, generator: torch.Generator) -> Tensor:
        """The N indices an epoch walks through, in order (default: a fresh permutation)."""
        assert self.context is not None
        return torch.randperm(self.context.num_samples, device=generator.device, generator=generator)

    def candidates(self, permuted: Tensor) -> Tensor:
        """Indices this step considers; ``permuted`` is the next slice of the epoch permutation."""
        return permuted

    def admit(self, indices: Tensor) -> Kept | None:
        """Decide before any forward pass; ``None`` means "no opinion, keep all"."""
        return None

    def select(self, batch: BatchView) -> Kept:
        """Decide from a no-grad forward pass (only called when :attr:`scores_batch`)."""
        return Kept.all(len(batch.indices), batch.indices.device)

    def observe(self, batch: BatchView) -> None:
        """State update with the samples just trained on (their logits and losses, detached)."""

    def state(self) -> dict[str, Any]:
        """Diagnostics for reports (small, JSON-ready)."""
        return {}

