"""harness.evaluation.weights: safe loading (never unpickling code), unwrapping, and one-line refusals of unfit
weights."""

from pathlib import Path

import pytest
import torch
from torch import nn

from harness.errors import UserError
from harness.evaluation.weights import load_weights
from harness.registry import build_model, make_config
from harness.weight_readers import load_state_dict_file


class _CreatesMarker:
    """Pickles as a call to open(marker, "w"): unpickling it with code execution allowed creates the marker."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _tiny_model() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.Conv2d(4, 3, 1))


def _assert_one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_released_imdn_weights_load_at_their_scale(shared_dir: Path, scale: int) -> None:
    model = build_model("imdn", make_config("imdn", scale))
    path = shared_dir / "weights" / f"IMDN_x{scale}.pth"
    load_weights(model, path, model_name="imdn", scale=scale)
    released = torch.load(path, map_location="cpu", weights_only=True)
    torch.testing.assert_close(model.upsampler[0].weight, released["module.upsampler.0.weight"].cpu())


def test_released_imdn_weights_refused_at_the_wrong_scale(shared_dir: Path) -> None:
    model = build_model("imdn", make_config("imdn", 3))
    before = model.upsampler[0].weight.clone()
    with pytest.raises(UserError) as error:
        load_weights(model, shared_dir / "weights" / "IMDN_x2.pth", model_name="imdn", scale=3)
    message = _assert_one_line(error)
    assert message.startswith("weights IMDN_x2.pth do not fit imdn at x3: 2 tensors differ in shape")
    assert "upsampler.0.weight: (12, 64, 3, 3) in file, (27, 64, 3, 3) in model" in message
    assert torch.equal(model.upsampler[0].weight, before)  # nothing half-loaded


def test_pickled_callable_is_refused_and_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    path = tmp_path / "malicious.pth"
    torch.save({"weight": torch.zeros(1), "payload": _CreatesMarker(marker)}, path)
    with pytest.raises(UserError) as error:
        load_state_dict_file(path)
    message = _assert_one_line(error)
    assert str(path) in message and "refused" in message
    with pytest.raises(UserError):
        load_weights(_tiny_model(), path, model_name="tiny", scale=2)
    assert not marker.exists()
    # Control: the payload is live, so the refusal above is what kept it from running.
    unpickled = torch.load(path, map_location="cpu", weights_only=False)
    unpickled["payload"].close()  # the file object open() returned
    assert marker.exists()


@pytest.mark.parametrize("wrapper", ["state_dict", "params", "model", None])
def test_nested_and_data_parallel_state_dicts_load(tmp_path: Path, wrapper: str | None) -> None:
    source = _tiny_model()
    state = {f"module.{key}": value for key, value in source.state_dict().items()}
    path = tmp_path / "weights.pth"
    torch.save({wrapper: state, "epoch": 7} if wrapper else state, path)
    target = _tiny_model()
    load_weights(target, path, model_name="tiny", scale=2)
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value)


def test_missing_and_unexpected_keys_named_in_one_line(tmp_path: Path) -> None:
    state = _tiny_model().state_dict()
    del state["1.bias"]
    state["2.weight"] = torch.zeros(1)
    path = tmp_path / "partial.pth"
    torch.save(state, path)
    with pytest.raises(UserError) as error:
        load_weights(_tiny_model(), path, model_name="tiny", scale=4)
    message = _assert_one_line(error)
    assert message == ("weights partial.pth do not fit tiny at x4: 1 tensor missing from the file (1.bias); "
                       "1 tensor in the file unknown to the model (2.weight)")


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.pth"
    with pytest.raises(UserError) as error:
        load_weights(_tiny_model(), path, model_name="tiny", scale=2)
    assert str(path) in _assert_one_line(error)


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", b"PK\x03\x04 truncated zip"])
def test_corrupt_file_names_the_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "corrupt.pth"
    path.write_bytes(content)
    with pytest.raises(UserError) as error:
        load_state_dict_file(path)
    message = _assert_one_line(error)
    assert str(path) in message and "corrupt" in message


def test_truncated_real_checkpoint_is_corrupt(tmp_path: Path) -> None:
    whole = tmp_path / "whole.pth"
    torch.save(_tiny_model().state_dict(), whole)
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(UserError) as error:
        load_state_dict_file(truncated)
    assert "corrupt" in _assert_one_line(error)


def test_file_without_a_state_dict_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "list.pth"
    torch.save([1, 2, 3], path)
    with pytest.raises(UserError) as error:
        load_state_dict_file(path)
    assert "no state dict" in _assert_one_line(error)
