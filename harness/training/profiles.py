"""Training profiles: the paper's recipe (section 4.2) and a seconds-long smoke budget on bundled images.

A profile fixes budgets and data, never the model: every profile trains the same architecture with the same loss
(L1), optimizer (Adam, betas 0.9/0.999) and step schedule (learning rate halved every `lr_halving_iterations`).
"""

from dataclasses import dataclass
from typing import Literal

from harness.errors import UserError

PROFILES = ("paper", "smoke")
# The one profile that trains as the paper does: only its trained PSNR/SSIM can be held to the paper's numbers.
FULL_BUDGET_PROFILE = "paper"

# The paper trains "3000 epochs" (900 for the ablations) with the rate halved "after every 600 epochs" but never says
# what an epoch is. MREN's recipe (DIV2K, batch 16, 192x192 HR patches, L1, Adam, step halving) is the IMDN/RFDN
# recipe, and their EDSR-derived code bases define an epoch as `test_every` = 1000 iterations: the DIV2K dataset
# repeats its 800 images 1000 // (800 // 16) = 20 times per epoch (IMDN: data/DIV2K.py, train_IMDN.py; IMDN's
# "halved every 2x10^5 iterations" is its "step_size 200" epochs). We follow that convention. The alternative, one
# pass over the 800 images (50 iterations at batch 16), would make the paper's 3000 epochs only 150k iterations.
PAPER_ITERATIONS_PER_EPOCH = 1000
PAPER_LEARNING_RATE = 5e-4

# Smoke: MREN trains SMOKE_ITERATIONS steps on small patches of the bundled scikit-image photographs, at the paper's
# learning rate. Tuned on 2 CPU cores: MREN x4 trains in about 13 s, x2 in about 21 s, and MREN x2 then beats
# MATLAB bicubic on Set5 by about 0.36 dB (docs/training.md). Small batches buy more steps per second, which is what
# learns fastest this early; at this length a halving would not matter, so it is placed at the very end.
SMOKE_ITERATIONS = 90
SMOKE_ITERATIONS_PER_EPOCH = 10  # a smoke "epoch" only groups the loss curve: the budget ignores the paper's epochs
SMOKE_BATCH_SIZE = 4
SMOKE_EVAL = "Set5"  # smoke trials are scored on this set alone, when the data root has it (else on the bundled set)
SMOKE_HR_PATCH = 48  # a multiple of 12, so of every scale (2, 3, 4)
# Smoke trials feed CI's drift gate, so their numbers must not depend on the CPU they ran on. In float32, the last-bit
# differences between convolution kernels (oneDNN's AVX-512 against AVX2 code, MKL's per-CPU GEMMs, thread counts)
# grow over 90 steps of training to about 0.1 dB of PSNR; in float64 they stay near 1e-12 (docs/drift.md measures
# both). The paper profile keeps float32, the precision the paper's models were trained in.
SMOKE_PRECISION = "float64"
PRECISIONS = ("float32", "float64")
# float64 alone is not enough for models whose 90 smoke steps are chaotic (the retrained CARN, with no bicubic skip,
# moves 0.05 dB between ATen's AVX2 and SSE kernels even in float64). So smoke runs also pin the CPU kernels to one set
# that is the same code on every x86-64 CPU with AVX2 (Intel since 2013, AMD since 2015): ATen's AVX2 kernels, oneDNN
# capped at AVX2, and MKL's AVX2 reproducibility branch. MKL keeps that branch, and its strict mode (the same GEMM bits
# at any thread count), for Intel CPUs only; elsewhere it runs its AUTO branch, whose last bits follow the thread
# count. Those bits do not reach a smoke score (tests/test_kernels.py, docs/drift.md); ATen's kernels do. The variables
# are set in the environment of the processes that run trials, before torch starts (harness/experiment/ray_executor.py).
REPRODUCIBLE_CPU_KERNELS = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2,STRICT", "ONEDNN_MAX_CPU_ISA": "AVX2"}


@dataclass(frozen=True)
class TrainSettings:
    profile: str
    epochs: int
    iterations_per_epoch: int
    iterations: int  # epochs * iterations_per_epoch
    batch_size: int
    hr_patch: int  # HR patch side; the LR patch is hr_patch / scale
    augment: bool  # random horizontal/vertical flips and 90-degree rotations
    learning_rate: float
    lr_halving_iterations: int  # StepLR(step_size=this, gamma=0.5), stepped once per iteration
    checkpoint_every: int  # iterations between checkpoints (one more is written at the end)
    log_every: int  # iterations per point of the loss curve
    data: Literal["div2k", "bundled"]
    num_workers: int  # DataLoader worker processes of a CPU run; 0 loads in the training process (GPU runs always do)
    precision: Literal["float32", "float64"]  # dtype of the weights, the patches and the loss, in training and eval

    def __post_init__(self) -> None:
        for name in ("epochs", "iterations_per_epoch", "batch_size", "hr_patch", "lr_halving_iterations",
                     "checkpoint_every", "log_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.iterations != self.epochs * self.iterations_per_epoch:
            raise ValueError(f"iterations ({self.iterations}) must be epochs x iterations_per_epoch "
                             f"({self.epochs} x {self.iterations_per_epoch})")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")
        if self.num_workers < 0:
            raise ValueError(f"num_workers must be >= 0, got {self.num_workers}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.data not in ("div2k", "bundled"):
            raise ValueError(f"data must be 'div2k' or 'bundled', got {self.data!r}")


def cpu_kernel_environment(profile: str) -> dict[str, str]:
    """Environment variables for the processes that run a profile's trials: the smoke profile's numbers must be the
    same on every CPU (CI's drift gate), the paper profile's run on the fastest kernels."""
    return dict(REPRODUCIBLE_CPU_KERNELS) if profile == "smoke" else {}


def training_settings(profile: str, *, epochs: int) -> TrainSettings:
    """The settings of `profile`; `epochs` is the paper's count for the trial (3000 main models, 900 ablations).

    `smoke` keeps its fixed seconds-long budget whatever `epochs` says, so that every smoke trial is equally cheap.
    """
    if profile not in PROFILES:
        raise UserError(f"unknown training profile {profile!r}; profiles: {', '.join(PROFILES)}")
    if not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 1:
        raise UserError(f"training epochs must be a positive integer, got {epochs!r}")
    if profile == "paper":
        return TrainSettings(
            profile="paper",
            epochs=epochs,
            iterations_per_epoch=PAPER_ITERATIONS_PER_EPOCH,
            iterations=epochs * PAPER_ITERATIONS_PER_EPOCH,
            batch_size=16,
            hr_patch=192,
            augment=True,
            learning_rate=PAPER_LEARNING_RATE,
            lr_halving_iterations=600 * PAPER_ITERATIONS_PER_EPOCH,
            checkpoint_every=5 * PAPER_ITERATIONS_PER_EPOCH,
            log_every=PAPER_ITERATIONS_PER_EPOCH,
            data="div2k",
            num_workers=8,  # at most: a CPU run's CPUs less one (loop.data_workers); a GPU run crops in process
            precision="float32",
        )
    return TrainSettings(
        profile="smoke",
        epochs=SMOKE_ITERATIONS // SMOKE_ITERATIONS_PER_EPOCH,
        iterations_per_epoch=SMOKE_ITERATIONS_PER_EPOCH,
        iterations=SMOKE_ITERATIONS,
        batch_size=SMOKE_BATCH_SIZE,
        hr_patch=SMOKE_HR_PATCH,
        augment=True,
        learning_rate=PAPER_LEARNING_RATE,
        lr_halving_iterations=SMOKE_ITERATIONS,
        checkpoint_every=SMOKE_ITERATIONS // 3,
        log_every=SMOKE_ITERATIONS_PER_EPOCH,
        data="bundled",
        num_workers=0,  # the bundled images are tiny; worker start-up would cost more than it saves
        precision=SMOKE_PRECISION,
    )
