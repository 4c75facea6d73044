"""Can MREN's branch convolutions run as fewer operations without changing the function, parameters or state dict?

Issue 18 asks to fuse SCACB's branch convolutions (the 1x1/3x3/5x5 channel and spatial branches) into grouped or
concatenated convolutions, keeping every parameter and state-dict key. This script measures the two ways that keep
them, against the block as written, on one SCACB in float64, side by side:

- "concatenated": each stage's channel and spatial convolutions as one convolution over both inputs (the
  depthwise weight embedded as a diagonal), outputs sliced back into branches;
- "grouped": the branch pair carried as one 20-channel tensor from stage to stage (a groups=2 convolution per
  stage, the exchange as one broadcast add) and both aggregations as one groups=2 convolution.

Both compute the same function (largest difference printed) but dispatch MORE operations per training step than the
block as written: with the parameters kept as separate tensors, every fused convolution needs its weight assembled
each step (cat, diag_embed), and the backward of every assembly and every slice of a fused output is an operation
too (slice_backward, select_backward, copies for strided gradients, accumulations). The launches are removed by
compiling instead (harness/training/execution.py), which fuses the elementwise work and keeps the parameters.

    python benchmarks/scacb_fusion.py
"""

from collections import Counter

import torch
import torch.nn.functional as F

from harness.training.op_count import OpCounter
from mren.blocks import SCACB


def dense_depthwise(weight: torch.Tensor) -> torch.Tensor:
    """(C, 1, k, k) depthwise weight -> the equal (C, C, k, k) dense weight, zero off the diagonal."""
    channels, _, height, width = weight.shape
    return torch.diag_embed(weight.view(channels, height, width).permute(1, 2, 0)).permute(2, 3, 0, 1)


def _weight(branch: torch.nn.Conv2d) -> torch.Tensor:
    return branch.weight if branch.groups == 1 else dense_depthwise(branch.weight)


def concatenated(block: SCACB, x: torch.Tensor) -> torch.Tensor:
    compressed = F.gelu(block.compress(x))
    inner = compressed.shape[1]
    channel_outputs: list[torch.Tensor] = []
    spatial_outputs: list[torch.Tensor] = []
    for channel_branch, spatial_branch in zip(block.channel_branches, block.spatial_branches):
        weight = torch.cat([_weight(channel_branch), _weight(spatial_branch)])
        bias = torch.cat([channel_branch.bias, spatial_branch.bias])
        if channel_outputs:  # the exchange: each part's input is the compressed feature plus the other's output
            pair = torch.cat([compressed + spatial_outputs[-1], compressed + channel_outputs[-1]], dim=1)
            both = F.conv2d(pair, weight, bias, padding=channel_branch.padding, groups=2)
        else:
            both = F.conv2d(compressed, weight, bias, padding=channel_branch.padding)
        both = F.gelu(both)
        channel_outputs.append(both[:, :inner])
        spatial_outputs.append(both[:, inner:])
    channel = block.channel_aggregate(torch.cat(channel_outputs, dim=1))
    spatial = block.spatial_aggregate(torch.cat(spatial_outputs, dim=1))
    return x + block.fuse(torch.cat([channel, spatial], dim=1))


def grouped(block: SCACB, x: torch.Tensor) -> torch.Tensor:
    compressed = F.gelu(block.compress(x))
    batch, inner, height, width = compressed.shape
    pairs: list[torch.Tensor] = []
    for stage, (channel_branch, spatial_branch) in enumerate(zip(block.channel_branches, block.spatial_branches)):
        # compressed + [channel; spatial] of the last stage = [spatial input; channel input]: the order of the
        # pair alternates from stage to stage instead of being swapped
        first, second = (channel_branch, spatial_branch) if stage % 2 == 0 else (spatial_branch, channel_branch)
        weight = torch.cat([_weight(first), _weight(second)])
        bias = torch.cat([first.bias, second.bias])
        if pairs:
            inputs = (pairs[-1].view(batch, 2, inner, height, width) + compressed.unsqueeze(1))
            both = F.conv2d(inputs.view(batch, 2 * inner, height, width), weight, bias,
                            padding=channel_branch.padding, groups=2)
        else:
            both = F.conv2d(compressed, weight, bias, padding=channel_branch.padding)
        pairs.append(F.gelu(both))
    # stage outputs in order [c0 s0][s1 c1][c2 s2] -> [c0 c1 c2 s0 s1 s2] for one grouped aggregation
    order = torch.tensor([0, 3, 4, 1, 2, 5], device=x.device)
    branches = torch.cat(pairs, dim=1).view(batch, 6, inner, height, width).index_select(1, order)
    aggregate = F.conv2d(branches.view(batch, 6 * inner, height, width),
                         torch.cat([block.channel_aggregate.weight, block.spatial_aggregate.weight]),
                         torch.cat([block.channel_aggregate.bias, block.spatial_aggregate.bias]), groups=2)
    return x + block.fuse(aggregate)


def step_ops(forward, block: SCACB, x: torch.Tensor) -> Counter[str]:
    counter = OpCounter()
    with counter:
        forward(block, x).sum().backward()
    block.zero_grad(set_to_none=True)
    return counter.ops


def main() -> None:
    torch.manual_seed(0)
    block = SCACB(channels=60, inner_channels=10, variant="full").double()
    x = torch.rand(2, 60, 12, 12, dtype=torch.float64, requires_grad=True)
    reference = block(x)
    print("one SCACB (60 -> 10 channels, variant full), forward and backward, ATen ops with views left out;")
    print("MREN x4 has 24 of them (4 per MREB)")
    print(f"  {'form':<16}{'ops':>5}{'convs':>7}{'largest difference':>21}  most frequent")
    for name, forward in (("as written", lambda block, x: block(x)), ("concatenated", concatenated),
                          ("grouped", grouped)):
        ops = step_ops(forward, block, x)
        difference = (forward(block, x) - reference).abs().max().item()
        frequent = ", ".join(f"{op} {count}" for op, count in ops.most_common(5))
        print(f"  {name:<16}{sum(ops.values()):5d}{ops['convolution']:7d}{difference:21.2e}  {frequent}")


if __name__ == "__main__":
    main()
