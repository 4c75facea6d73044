"""The training set a profile names (`TrainSettings.data`): the bundled photographs or DIV2K (harness/data/training.py).

It sits in `training`, not in `data`, because it reads a profile: the data layer knows images and patches only.
"""

from pathlib import Path
from typing import Callable

from harness.data.training import TrainingPatches, bundled_training_data, div2k_training_data
from harness.errors import UserError
from harness.training.profiles import TrainSettings


def training_data(settings: TrainSettings, scale: int, *, data_root: Path | None = None,
                  cache_dir: Path | None = None, threads: int = 1, say: Callable[[str], None] = lambda line: None,
                  status: Callable[[str], None] = lambda line: None) -> TrainingPatches:
    """The training set named by `settings.data`; DIV2K needs `data_root` (and uses `cache_dir` when given, builds
    in `threads` threads and tells its progress to `say` and `status`: harness/data/training.py)."""
    if settings.data == "bundled":
        return bundled_training_data(scale, hr_patch=settings.hr_patch, augment=settings.augment)
    if data_root is None:
        raise UserError(f"profile {settings.profile!r} trains on DIV2K: give the data root holding "
                        "DIV2K/DIV2K_train_HR")
    return div2k_training_data(data_root, scale, hr_patch=settings.hr_patch, augment=settings.augment,
                               cache_dir=cache_dir, threads=threads, say=say, status=status)
