"""MREN (Cai, Lai, Jia): spatial-channel adaptive coordination of multilevel refinement enhancement networks."""

from mren.config import MRENConfig, mren_l_config
from mren.model import MREN, build_mren

__all__ = ["MREN", "MRENConfig", "build_mren", "mren_l_config"]
