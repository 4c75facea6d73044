"""Every registered model at every scale it supports, with no list to keep up to date: a new registry entry is
tested by being registered. Forward shape, finite output, a gradient for every parameter, and the parameter count
against what was published: the released file's own count where there are released weights, the paper's comparison
table (printed rounded to K) where the entry names its row."""

import pytest
import torch

from harness import registry
from harness.evaluation.complexity import count_params
from harness.published.paper import load_paper

REGISTERED = dict(registry.MODELS)  # as the harness registers them (a plugin test may add one later in the run)
CASES = [(name, scale) for name, entry in sorted(REGISTERED.items()) for scale in entry.scales]


def published_counts(name: str, scale: int) -> list[tuple[str, int, float]]:
    """(source, count, relative tolerance) of every count published for `name` at `scale`."""
    entry = registry.entry(name)
    counts = []
    if entry.released is not None and scale in entry.released.params:
        counts.append((f"released {entry.released.file_for(scale)}", entry.released.params[scale], 0.0))
    if entry.paper_row is not None:
        paper = load_paper()
        printed = paper.value(paper.comparison, entry.paper_row, "params", None, scale)
        counts.append((f"paper {printed.printed} (line {printed.line})", printed.value, entry.params_tolerance))
    return counts


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: a second thread only adds waiting on a loaded machine
    yield
    torch.set_num_threads(threads)


def test_every_model_is_checked_at_some_scale() -> None:
    assert {name for name, _ in CASES} == set(REGISTERED) >= {"mren", "mren_l", "imdn", "bicubic"}
    assert len(CASES) == sum(len(entry.scales) for entry in REGISTERED.values()) == 3 * len(REGISTERED)


@pytest.mark.parametrize("name, scale", CASES)
def test_forward_shape_finite_and_gradients_reach_the_parameters(name: str, scale: int) -> None:
    torch.manual_seed(0)
    model = registry.build_model(name, registry.make_config(name, scale))
    lr = torch.rand(1, 3, 17, 23)
    sr = model(lr)
    assert sr.shape == (1, 3, 17 * scale, 23 * scale)
    assert torch.isfinite(sr).all()
    parameters = list(model.parameters())
    if not parameters:  # bicubic: nothing to learn, and MATLAB's rounding has no gradient
        assert count_params(model) == 0
        return
    sr.square().mean().backward()
    # a multi-scale network (CARN) holds upsamplers of other scales that this forward never touches
    grads = [parameter.grad for parameter in parameters if parameter.grad is not None]
    assert grads and all(torch.isfinite(grad).all() for grad in grads)
    assert sum(grad.abs().sum() for grad in grads) > 0


@pytest.mark.parametrize("name, scale", [case for case in CASES if published_counts(*case)])
def test_parameter_count_matches_what_was_published(name: str, scale: int) -> None:
    params = count_params(registry.build_model(name, registry.make_config(name, scale)))
    for source, count, tolerance in published_counts(name, scale):
        assert abs(params - count) <= tolerance * count, f"{name} x{scale}: {params:,} against {source}"


def test_registry_refuses_a_scale_the_model_does_not_support() -> None:
    from harness.errors import UserError

    with pytest.raises(UserError, match="supports scales 2, 3, 4, not 8"):
        registry.make_config("mren", 8)


def test_the_design_docs_worked_example_needs_only_its_module_and_registry_line(monkeypatch) -> None:
    """docs/design.md "Adding a model": its module and its `register(...)` line, run as written, give a model that
    the checks above accept at every scale it registers."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "design.md").read_text()
    section = text.split("## Adding a model", 1)[1].split("\n## ", 1)[0]
    module_code, registry_code = re.findall(r"```python\n(.*?)```", section, flags=re.S)[:2]
    namespace: dict = {}
    exec(compile(module_code, "baselines/espcn.py", "exec"), namespace)
    monkeypatch.setattr(registry, "MODELS", dict(registry.MODELS))  # the real registry is back after the test
    registration = "\n".join(line for line in registry_code.splitlines() if line.startswith("register("))
    exec(registration, {"register": registry.register, **namespace})
    assert registry.entry("espcn").scales == (2, 3, 4)
    for scale in registry.entry("espcn").scales:
        test_forward_shape_finite_and_gradients_reach_the_parameters("espcn", scale)
