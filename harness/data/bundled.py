"""Small photographs shipped inside scikit-image: training data for the smoke profile and a held-out eval set.

Only images bundled in the scikit-image wheel are used (no download). `cat` is skipped: it is `chelsea` again.
The splits are fixed so that smoke training never sees an evaluation image.
"""

from functools import lru_cache

import numpy as np
import skimage.data

from harness.data.images import to_rgb
from harness.errors import UserError

# Colour photographs and greyscale textures of varied content; greyscale ones are replicated to three channels.
BUNDLED_TRAIN: tuple[str, ...] = (
    "astronaut", "coffee", "rocket", "immunohistochemistry", "hubble_deep_field",
    "brick", "grass", "gravel", "moon", "clock", "page", "text",
)
# Held out from smoke training: one colour photograph and two greyscale ones with sharp edges and fine detail.
BUNDLED_EVAL: tuple[str, ...] = ("chelsea", "camera", "coins")
BUNDLED_SET = "bundled"  # the evaluation set of the BUNDLED_EVAL images, as specs and records name it


def load_bundled(name: str) -> np.ndarray:
    """The bundled image `name` as uint8 HxWx3 RGB (grey replicated, alpha dropped); read-only, cached."""
    if name not in BUNDLED_TRAIN + BUNDLED_EVAL:
        known = ", ".join(BUNDLED_TRAIN + BUNDLED_EVAL)
        raise UserError(f"unknown bundled image {name!r}; bundled images: {known}")
    return _load(name)


@lru_cache(maxsize=None)
def _load(name: str) -> np.ndarray:
    image = getattr(skimage.data, name)()
    if image.dtype != np.uint8:
        raise UserError(f"bundled image {name!r} is {image.dtype}, not 8-bit")
    image = to_rgb(image)
    image.setflags(write=False)  # shared by every caller through the cache
    return image
