"""The training budget behind a report: which profiles the trained trials ran, and whether that is the paper's.

A report of smoke-profile trials says so at its top, and keeps the PSNR/SSIM of those trials (which test the pipeline,
not the paper) apart from what holds at any budget: parameter counts, MACs, scores of released weights and the
paper's own consistency. Which cells are budget-limited is decided per cell in tables.py (`budget_limited`).
"""

from dataclasses import dataclass

from harness.published.paper import Paper
from harness.records import TrialRecord
from harness.training.profiles import FULL_BUDGET_PROFILE, PAPER_ITERATIONS_PER_EPOCH


@dataclass(frozen=True)
class ProfileUse:
    profile: str
    trials: int
    iterations: tuple[int, ...]  # the distinct iteration counts its trials trained


@dataclass(frozen=True)
class TrainingBudget:
    profiles: tuple[ProfileUse, ...]  # profiles of the trials that trained, most used first
    untrained: int  # trials that trained nothing: released weights, complexity only
    paper_iterations: dict[str, int]  # "ablation" / "final" -> the paper's epochs in iterations

    @property
    def limited(self) -> bool:
        """Some trial trained below the paper's budget: its PSNR/SSIM are shown apart."""
        return any(use.profile != FULL_BUDGET_PROFILE for use in self.profiles)

    @property
    def limited_trials(self) -> int:
        return sum(use.trials for use in self.profiles if use.profile != FULL_BUDGET_PROFILE)


def training_budget(records: list[TrialRecord], paper: Paper) -> TrainingBudget:
    trials: dict[str, list[int]] = {}
    for record in records:
        if record.training is not None:
            trials.setdefault(str(record.config.profile), []).append(record.training.iterations)
    uses = sorted((ProfileUse(profile, len(counts), tuple(sorted(set(counts)))) for profile, counts in trials.items()),
                  key=lambda use: -use.trials)
    epochs = paper.training_epochs
    return TrainingBudget(profiles=tuple(uses), untrained=sum(record.training is None for record in records),
                          paper_iterations={"ablation": epochs.ablation * PAPER_ITERATIONS_PER_EPOCH,
                                            "final": epochs.final * PAPER_ITERATIONS_PER_EPOCH})
