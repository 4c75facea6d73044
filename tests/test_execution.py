"""How training steps execute (harness/training/execution.py): the default rule, refusals, regional compilation,
the eager fallback when compiling fails, and that the execution is no part of a trial's identity."""

import dataclasses
from pathlib import Path

import pytest
import torch
from conftest import REPO_ROOT

from harness import registry
from harness.data.training import bundled_training_data
from harness.experiment.spec import load_spec
from harness.experiment.trial import RunSettings, resolve_trials
from harness.training import loop
from harness.training.execution import PreparedModel, compile_blocks, default_execution, prepare, release
from harness.training.loop import seed_everything, train
from harness.training.op_count import training_step_ops
from harness.training.profiles import training_settings

CPU = torch.device("cpu")


def build_mren(scale: int = 2, seed: int = 0) -> torch.nn.Module:
    seed_everything(seed)
    return registry.build_model("mren", registry.make_config("mren", scale))


def test_auto_is_eager_for_smoke_and_compiled_for_paper() -> None:
    assert default_execution("auto", "smoke") == "eager"
    assert default_execution("auto", "paper") == "compiled"
    assert default_execution("compiled+cudagraphs", "smoke") == "compiled+cudagraphs"
    with pytest.raises(ValueError, match="execution must be one of auto, eager"):
        default_execution("fast", "paper")


def test_cuda_graphs_are_refused_on_cpu_with_a_reason() -> None:
    model = build_mren()
    prepared = prepare(model, "compiled+cudagraphs", CPU)
    assert prepared.execution == "compiled"
    assert "CUDA graphs need a CUDA device" in prepared.note
    release(model)


def test_regional_compilation_keeps_parameters_and_state_dict() -> None:
    model = build_mren()
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    count = compile_blocks(model)
    assert count == 6 + 1  # six MREBs and x2's one RBWA stage; their inner lists are traced with them
    compiled = [name for name, module in model.named_modules() if module._compiled_call_impl is not None]
    assert compiled == [f"blocks.{index}" for index in range(6)] + ["reconstruct.0"]
    after = model.state_dict()
    assert list(after) == list(before) and all(torch.equal(after[name], before[name]) for name in before)
    release(model)
    assert not any(module._compiled_call_impl is not None for module in model.modules())


def test_eager_prepare_is_the_model_itself() -> None:
    model = build_mren()
    prepared = prepare(model, "eager", CPU)
    assert prepared.module is model and prepared.execution == "eager" and prepared.note == ""


class _Broken(torch.nn.Module):
    """Stands for a model whose compiled kernels fail at the first step."""

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        raise AssertionError("expected size 32==32, stride 1==1024 at dim=1")


@pytest.mark.slow
def test_a_model_that_fails_to_compile_trains_eagerly_with_the_same_weights(monkeypatch, tmp_path: Path,
                                                                             one_thread) -> None:
    settings = dataclasses.replace(training_settings("smoke", epochs=1), epochs=4, iterations_per_epoch=1,
                                   iterations=4, batch_size=2, hr_patch=24, checkpoint_every=4, log_every=2)
    data = bundled_training_data(2, hr_patch=24)
    eager_model = build_mren()
    eager = train(eager_model, settings, data=data, seed=0, checkpoint_dir=tmp_path / "eager", device=CPU)
    monkeypatch.setattr(loop, "prepare", lambda model, execution, device: PreparedModel(_Broken(), "compiled", ""))
    fallback_model = build_mren()
    fallback = train(fallback_model, settings, data=data, seed=0, checkpoint_dir=tmp_path / "fallback", device=CPU,
                     execution="compiled")
    assert eager.execution == "eager" and eager.compile_seconds is None
    assert fallback.execution == "eager" and fallback.compile_seconds is None
    assert fallback.execution_note.startswith("compiled failed at a first step (AssertionError: expected size")
    assert fallback.curve == eager.curve
    for name, tensor in eager_model.state_dict().items():
        assert torch.equal(tensor, fallback_model.state_dict()[name]), name


def test_the_execution_is_not_part_of_any_trial_id(tmp_path: Path) -> None:
    spec = load_spec(REPO_ROOT / "ablations" / "paper.yaml")
    for profile, count in (("smoke", 55), ("paper", 56)):
        ids = {execution: [trial.trial_id for trial in resolve_trials(
            spec, RunSettings(profile=profile, results_dir=tmp_path, execution=execution))]
            for execution in ("auto", "eager", "compiled", "compiled+cudagraphs")}
        assert len(ids["auto"]) == count
        assert all(found == ids["auto"] for found in ids.values())


def test_mren_step_counts_its_convolutions_and_leaves_views_out() -> None:
    model = build_mren(scale=4)
    ops = training_step_ops(model, torch.rand(1, 3, 8, 8), torch.rand(1, 3, 32, 32))
    # 310 convolutions: the shallow and tail ones, 49 per MREB (4 SCACBs of 10, 4 DRACBs, the fuse, WSILB-V's 4
    # calls), 7 per RBWA stage; each has its backward
    assert ops["convolution"] == 2 + 6 * 49 + 2 * 7 == ops["convolution_backward"]
    assert not {"view", "reshape", "slice", "detach", "expand", "t"} & set(ops)
    assert all(parameter.grad is None for parameter in model.parameters())  # the count leaves no gradient behind
