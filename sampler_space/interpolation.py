"""Piecewise-linear interpolation on tensors (the one primitive transforms and knots share)."""

from __future__ import annotations

import torch
from torch import Tensor


def piecewise_linear(x: Tensor, xp: Tensor, fp: Tensor) -> Tensor:
    """Evaluate the piecewise-linear function through ``(xp[k], fp[k])`` at ``x``.

    Args:
        x: any shape, floating point.
        xp: ``(K,)`` strictly increasing breakpoints, ``K >= 2``, same device as ``x``.
        fp: ``(K,)`` values at the breakpoints.

    Returns:
        Tensor of ``x``'s shape, dtype and device. Inputs outside ``[xp[0], xp[-1]]`` take the
        end values (constant extrapolation), like ``numpy.interp``.
    """
    xp = xp.to(device=x.device, dtype=x.dtype)
    fp = fp.to(device=x.device, dtype=x.dtype)
    clamped = x.clamp(xp[0], xp[-1])
    right = torch.searchsorted(xp, clamped.contiguous(), right=True).clamp(1, xp.numel() - 1)
    left = right - 1
    x0, x1 = xp[left], xp[right]
    y0, y1 = fp[left], fp[right]
    fraction = (clamped - x0) / (x1 - x0)
    return y0 + fraction * (y1 - y0)
