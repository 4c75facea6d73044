"""Where MREN's parameters sit, part by part, counted from freshly built models: the breakdown tables of
docs/architecture.md (printed by `python -m harness.experiment.parameter_counts` beside the paper's counts)."""

from torch import nn

from mren.blocks import RECEPTIVE_FIELDS
from mren.config import MRENConfig
from mren.model import build_mren


def count_params(module: nn.Module) -> int:
    return sum(parameter.numel() for parameter in module.parameters())


def _table(rows: list[tuple[str, int, int]], total: int) -> str:
    lines = ["| part | how many | parameters each | parameters in all |", "| --- | --- | --- | --- |"]
    lines += [f"| {name} | {number} | {each:,} | {number * each:,} |" for name, number, each in rows]
    lines.append(f"| **total** | | | **{total:,}** |")
    return "\n".join(lines)


def scacb_breakdown(config: MRENConfig) -> str:
    scacb = build_mren(config).blocks[0].refine[0]
    rows = [("1x1 compression", 1, count_params(scacb.compress)),
            *((f"channel part {k}x{k} conv", 1, count_params(branch))
              for k, branch in zip(RECEPTIVE_FIELDS, scacb.channel_branches)),
            *((f"spatial part {k}x{k} conv", 1, count_params(branch))
              for k, branch in zip(RECEPTIVE_FIELDS, scacb.spatial_branches)),
            ("channel part aggregation 1x1 conv", 1, count_params(scacb.channel_aggregate)),
            ("spatial part aggregation 1x1 conv", 1, count_params(scacb.spatial_aggregate)),
            ("fusion 1x1 conv", 1, count_params(scacb.fuse))]
    return _table(rows, count_params(scacb))


def mreb_breakdown(config: MRENConfig) -> str:
    block = build_mren(config).blocks[0]
    rows = [("SCACB", len(block.refine), count_params(block.refine[0])),
            ("DRACB", len(block.distill), count_params(block.distill[0])),
            ("fusion 1x1 conv", 1, count_params(block.fuse)),
            ("WSILB-V", 1, count_params(block.attention))]
    return _table(rows, count_params(block))


def model_breakdown(config: MRENConfig) -> str:
    model = build_mren(config)
    rows = [("shallow 3x3 conv", 1, count_params(model.shallow)),
            ("MREB", len(model.blocks), count_params(model.blocks[0]))]
    for index, stage in enumerate(model.reconstruct, start=1):
        rows.append((f"RBWA {index} (x{stage.factor:g}, {stage.conv1.in_channels} -> "
                     f"{stage.compress.out_channels} channels)", 1, count_params(stage)))
    rows.append((f"tail 3x3 conv ({model.tail.in_channels} -> 3)", 1, count_params(model.tail)))
    return _table(rows, count_params(model))
