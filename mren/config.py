"""The one config of the MREN family: the paper's model, its ablation variants (Tables 1-4) and MREN-L.

Widths the paper does not state were chosen so that the parameter counts land on Tables 1, 3, 4 and 5;
docs/architecture.md gives the arithmetic. The config accepts every architecture that can be built; which values a
study sweeps (Table 1's 3..8 blocks, Table 2's weights 0..1) is the business of its spec (ablations/*.yaml).
"""

import math
from dataclasses import dataclass
from typing import Literal, get_args

ScacbVariant = Literal["full", "osa", "oca", "scnc"]
DracbVariant = Literal["full", "distill", "distill_sigmoid", "distill_jump"]

# The upsampling factor of each RBWA stage, per scale: one x2 stage at x2, a x2 stage then a x(scale/2) stage at x3
# and x4. Table 5 gives x3 and x4 the same parameter count and x2 24K less, so x3 and x4 have the same number of
# stages and x2 one fewer (docs/architecture.md). The scales MREN can be built at are this plan's.
RBWA_FACTORS: dict[int, tuple[float, ...]] = {2: (2.0,), 3: (2.0, 3 / 2), 4: (2.0, 4 / 2)}
SCALES = tuple(RBWA_FACTORS)


@dataclass(frozen=True)
class MRENConfig:
    scale: int = 4
    n_mreb: int = 6  # section 4.2: "We use 6 MREB"; Table 1 varies it
    comm_weight: float = 0.2  # W of eq. (5); Table 2 varies it
    scacb: ScacbVariant = "full"  # Table 3: osa/oca swap one part's convolution type, scnc drops the exchange
    dracb: DracbVariant = "full"  # Table 4
    channels: int = 60  # section 3.2: "compressed from 60 to 10"
    scacb_channels: int = 10  # the 1x1 compression inside SCACB, section 3.2
    distill_channels: int = 12  # DRACB output width, not in the paper: fitted to Table 1's ~34K per MREB
    wsilb_reduction: int = 6  # WSILB-V bottleneck = width // 6, not in the paper: fitted with distill_channels
    rbwa_channels: int = 36  # output width of the first RBWA, each later RBWA halves it; fitted to Table 5

    def __post_init__(self) -> None:
        _require_int(self, "scale", "n_mreb", "channels", "scacb_channels", "distill_channels", "wsilb_reduction",
                     "rbwa_channels")
        if self.scale not in SCALES:
            raise ValueError(f"scale must be one of {SCALES}, got {self.scale}")
        if self.n_mreb < 1:
            raise ValueError(f"n_mreb must be at least 1, got {self.n_mreb}")
        if isinstance(self.comm_weight, bool) or not isinstance(self.comm_weight, (int, float)):
            raise ValueError(f"comm_weight must be a number, got {self.comm_weight!r}")
        if not math.isfinite(self.comm_weight):
            raise ValueError(f"comm_weight must be finite, got {self.comm_weight}")
        if self.scacb not in get_args(ScacbVariant):
            raise ValueError(f"scacb must be one of {get_args(ScacbVariant)}, got {self.scacb!r}")
        if self.dracb not in get_args(DracbVariant):
            raise ValueError(f"dracb must be one of {get_args(DracbVariant)}, got {self.dracb!r}")
        if self.channels < 1:
            raise ValueError(f"channels must be positive, got {self.channels}")
        for name in ("scacb_channels", "distill_channels"):
            if not 1 <= getattr(self, name) <= self.channels:
                raise ValueError(f"{name} must be in 1..channels ({self.channels}), got {getattr(self, name)}")
        if self.wsilb_reduction < 1:
            raise ValueError(f"wsilb_reduction must be positive, got {self.wsilb_reduction}")
        if self.rbwa_channels < 2:  # the second RBWA (x3, x4) halves it
            raise ValueError(f"rbwa_channels must be at least 2, got {self.rbwa_channels}")
        if self.rbwa_channels // 2 // self.wsilb_reduction < 1:
            raise ValueError(f"wsilb_reduction {self.wsilb_reduction} leaves no bottleneck channel in the last "
                             f"RBWA ({self.rbwa_channels // 2} channels); lower it or raise rbwa_channels")


def mren_l_config(scale: int) -> MRENConfig:
    """MREN-L: every width of MREN times 1.4 (about sqrt 2, so about twice the parameters), rounded.

    The paper gives MREN-L only as parameter counts (Table 5: 531K at x2, 579K at x3 and x4); the width scaling
    is our reading, chosen because both counts and their x2-to-x4 difference are about twice MREN's.
    """
    return MRENConfig(scale=scale, channels=84, scacb_channels=14, distill_channels=17, rbwa_channels=50)


def _require_int(config: MRENConfig, *names: str) -> None:
    for name in names:
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name} must be an integer, got {value!r}")
