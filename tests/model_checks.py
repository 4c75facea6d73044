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


def assert_wrong_weights_refused(shared_dir, tmp_path, capsys, name: str, scale: int, file: str, words: str) -> None:
    """`eval` of model `name` at `scale` with the released `file` (of another model or scale) is one line naming the
    mismatch (`words`), exit 2, and no output written."""
    from harness.cli import main

    code = main(["eval", "--model", name, "--weights", str(shared_dir / "weights" / file),
                 "--data", str(shared_dir / "benchmarks" / "Set5"), "--scale", str(scale),
                 "--out", str(tmp_path / "out.json")])
    error = capsys.readouterr().err.strip()
    assert code == 2 and len(error.splitlines()) == 1 and words in error, error
    assert not (tmp_path / "out.json").exists()
