"""The blocks of MREN (section 3): SCACB, DRACB, WSILB-V, MREB and RBWA.

Every choice the paper leaves open is listed, with its reason, in docs/architecture.md.
"""

import torch
import torch.nn.functional as F
from torch import nn

from mren.config import DracbVariant, ScacbVariant

RECEPTIVE_FIELDS = (1, 3, 5)  # section 3.2: "three levels of perceptual fields, 1x1, 3x3, and 5x5"


def conv(in_channels: int, out_channels: int, kernel_size: int, groups: int = 1) -> nn.Conv2d:
    """A stride-1 convolution that keeps the spatial size."""
    return nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, groups=groups)


class SCACB(nn.Module):
    """Space-Channel Adaptive Coordination Block (section 3.2, Fig. 2).

    A 1x1 convolution compresses `channels` to `inner_channels`. A channel part (ordinary convolutions) and a
    spatial part (depthwise convolutions) each hold one branch per receptive field 1x1, 3x3, 5x5. The exchange
    ("jump connection", the blue line of Fig. 2) adds one part's branch output to the other part's next branch
    input. Each part aggregates its branches by concatenation and a 1x1 convolution; a last 1x1 convolution
    aggregates the two parts back to `channels`, with a residual connection.

    Variants (Table 3): "osa" makes the channel part depthwise too (spatial adaptation only), "oca" makes the
    spatial part ordinary too (channel adaptation only); both keep every channel count. "scnc" removes the
    exchange.
    """

    def __init__(self, *, channels: int, inner_channels: int, variant: ScacbVariant) -> None:
        super().__init__()
        self.exchange = variant != "scnc"
        channel_groups = inner_channels if variant == "osa" else 1
        spatial_groups = 1 if variant == "oca" else inner_channels
        self.compress = conv(channels, inner_channels, 1)
        self.channel_branches = nn.ModuleList(
            conv(inner_channels, inner_channels, k, groups=channel_groups) for k in RECEPTIVE_FIELDS)
        self.spatial_branches = nn.ModuleList(
            conv(inner_channels, inner_channels, k, groups=spatial_groups) for k in RECEPTIVE_FIELDS)
        branches = len(RECEPTIVE_FIELDS)
        self.channel_aggregate = conv(branches * inner_channels, inner_channels, 1)
        self.spatial_aggregate = conv(branches * inner_channels, inner_channels, 1)
        self.fuse = conv(2 * inner_channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        compressed = F.gelu(self.compress(x))
        channel_outputs: list[torch.Tensor] = []
        spatial_outputs: list[torch.Tensor] = []
        for channel_branch, spatial_branch in zip(self.channel_branches, self.spatial_branches):
            channel_input = spatial_input = compressed
            if self.exchange and channel_outputs:
                channel_input = compressed + spatial_outputs[-1]
                spatial_input = compressed + channel_outputs[-1]
            channel_outputs.append(F.gelu(channel_branch(channel_input)))
            spatial_outputs.append(F.gelu(spatial_branch(spatial_input)))
        channel = self.channel_aggregate(torch.cat(channel_outputs, dim=1))
        spatial = self.spatial_aggregate(torch.cat(spatial_outputs, dim=1))
        return x + self.fuse(torch.cat([channel, spatial], dim=1))


class DRACB(nn.Module):
    """Double Refinement Attention Communication Block (section 3.3, eqs. 5-6).

    One 1x1 convolution distils `channels` to `out_channels`; its output F_l is both the distilled feature and
    the attention map. With the previous DRACB's map F_{l-1}: F' = F_l + W * F_{l-1}, output F_l * sigmoid(F').
    `previous` is None for the first DRACB of the network, which then uses F' = F_l.

    Variants (Table 4), none with parameters of its own: "distill" returns F_l; "distill_sigmoid" returns
    F_l * sigmoid(F_l) (attention, no communication); "distill_jump" returns F_l + W * F_{l-1} (the previous map
    joins the features through a jump connection, no sigmoid).

    Returns (output, F_l); F_l is what the next DRACB receives as `previous`.
    """

    def __init__(self, *, channels: int, out_channels: int, comm_weight: float, variant: DracbVariant) -> None:
        super().__init__()
        self.comm_weight = comm_weight
        self.variant = variant
        self.distill = conv(channels, out_channels, 1)

    def forward(self, x: torch.Tensor, previous: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        attention_map = self.distill(x)
        if self.variant == "distill":
            return attention_map, attention_map
        if self.variant == "distill_sigmoid":
            return attention_map * torch.sigmoid(attention_map), attention_map
        communicated = attention_map if previous is None else attention_map + self.comm_weight * previous
        if self.variant == "distill_jump":
            return communicated, attention_map
        return attention_map * torch.sigmoid(communicated), attention_map


class WSILBV(nn.Module):
    """WSILB-V: the weight-sharing information lossless attention block of Cai et al. [26] with a 1x1
    compression and a 1x1 recovery convolution (section 3.4).

    The compressed feature and its high-frequency part (the feature minus its 3x3 local mean) pass through one
    shared 3x3 convolution (the weight sharing); the sum is recovered to `channels` and gates the input through a
    sigmoid. Everything stays at full resolution, so no information is pooled away.
    """

    def __init__(self, *, channels: int, reduction: int) -> None:
        super().__init__()
        inner_channels = channels // reduction
        self.compress = conv(channels, inner_channels, 1)
        self.shared = conv(inner_channels, inner_channels, 3)
        self.recover = conv(inner_channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        compressed = self.compress(x)
        high_frequency = compressed - F.avg_pool2d(compressed, 3, stride=1, padding=1, count_include_pad=False)
        attention = self.recover(F.gelu(self.shared(compressed) + self.shared(high_frequency)))
        return x * torch.sigmoid(attention)


class MREB(nn.Module):
    """Multilevel Refinement Enhancement Block (section 3.4, Fig. 4): an RFDN-style distillation block.

    Four stages: each refines the running feature with an SCACB and distils the result with a DRACB, whose
    attention map is handed on to the next DRACB (across MREB boundaries too). The distilled features are
    concatenated, fused by a 1x1 convolution, passed through WSILB-V and added to the block input.
    """

    stages = 4

    def __init__(self, *, channels: int, scacb_channels: int, distill_channels: int, wsilb_reduction: int,
                 comm_weight: float, scacb: ScacbVariant, dracb: DracbVariant) -> None:
        super().__init__()
        self.refine = nn.ModuleList(
            SCACB(channels=channels, inner_channels=scacb_channels, variant=scacb) for _ in range(self.stages))
        self.distill = nn.ModuleList(
            DRACB(channels=channels, out_channels=distill_channels, comm_weight=comm_weight, variant=dracb)
            for _ in range(self.stages))
        self.fuse = conv(self.stages * distill_channels, channels, 1)
        self.attention = WSILBV(channels=channels, reduction=wsilb_reduction)

    def forward(self, x: torch.Tensor,
                previous_map: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        feature = x
        distilled: list[torch.Tensor] = []
        for refine, distill in zip(self.refine, self.distill):
            feature = refine(feature)
            output, previous_map = distill(feature, previous_map)
            distilled.append(output)
        return x + self.attention(self.fuse(torch.cat(distilled, dim=1))), previous_map


class RBWA(nn.Module):
    """Reconstruction Block With Attention (section 3.5, Fig. 1).

    Bilinear upsampling by `factor`, two 3x3 convolutions, WSILB-V, and a 1x1 convolution that compresses
    `in_channels` to `out_channels`.
    """

    def __init__(self, *, in_channels: int, out_channels: int, factor: float, wsilb_reduction: int) -> None:
        super().__init__()
        self.factor = factor
        self.conv1 = conv(in_channels, in_channels, 3)
        self.conv2 = conv(in_channels, in_channels, 3)
        self.attention = WSILBV(channels=in_channels, reduction=wsilb_reduction)
        self.compress = conv(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        upsampled = F.interpolate(x, scale_factor=self.factor, mode="bilinear", align_corners=False)
        feature = self.conv2(F.gelu(self.conv1(upsampled)))
        return self.compress(self.attention(feature))
