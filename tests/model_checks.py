"""Checks every super-resolution model must pass, shared by the model and baseline tests."""

import torch
from torch import nn


def check_forward_and_backward(model: nn.Module, scale: int) -> None:
    """A 1x3x17x23 input gives a finite 1x3x(17s)x(23s) output, and a gradient reaches the input."""
    lr = torch.rand(1, 3, 17, 23, requires_grad=True)
    sr = model(lr)
    assert sr.shape == (1, 3, 17 * scale, 23 * scale)
    assert torch.isfinite(sr).all()
    sr.square().mean().backward()
    assert lr.grad is not None and torch.isfinite(lr.grad).all() and lr.grad.abs().sum() > 0
