"""Training: profiles, training data, determinism, resumption, and that the smoke budget really learns."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from harness import registry
from harness.data.benchmark import open_benchmark
from harness.data.bundled import BUNDLED_EVAL, BUNDLED_TRAIN, load_bundled
from harness.data.images import write_png
from harness.data.matlab import imresize_uint8
from harness.data.training import TrainingPair, TrainingPatches, bundled_training_data, div2k_training_data
from harness.errors import UserError
from harness.evaluation.evaluate import evaluate
from harness.training.loop import FINAL, LAST, seed_everything, train
from harness.training.profiles import PROFILES, TrainSettings, training_settings

CPU = torch.device("cpu")


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Training steps this small gain nothing from a second thread, and on a busy machine OpenMP barriers across
    preempted threads make them many times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_settings(iterations: int = 8, **changes) -> TrainSettings:
    """A few MREN iterations on 24x24 HR patches: seconds, enough to exercise every code path."""
    base = dataclasses.replace(training_settings("smoke", epochs=3000), epochs=iterations,
                               iterations_per_epoch=1, iterations=iterations, batch_size=4, hr_patch=24,
                               lr_halving_iterations=3, checkpoint_every=iterations, log_every=3)
    return dataclasses.replace(base, **changes)


def build_mren(scale: int, seed: int) -> torch.nn.Module:
    seed_everything(seed)
    return registry.build_model("mren", registry.make_config("mren", scale))


@pytest.fixture(scope="module")
def bundled_x2() -> TrainingPatches:
    return bundled_training_data(2, hr_patch=training_settings("smoke", epochs=3000).hr_patch)


# --- profiles ---

def test_unknown_profile_is_a_user_error_naming_the_profiles() -> None:
    with pytest.raises(UserError, match="unknown training profile 'fast'.*paper, smoke"):
        training_settings("fast", epochs=3000)


def test_bad_epochs_is_a_user_error() -> None:
    with pytest.raises(UserError, match="epochs"):
        training_settings("paper", epochs=0)


def test_paper_profile_follows_section_4_2() -> None:
    main, ablation = training_settings("paper", epochs=3000), training_settings("paper", epochs=900)
    assert (main.batch_size, main.hr_patch, main.learning_rate, main.augment, main.data) == (16, 192, 5e-4, True,
                                                                                             "div2k")
    assert main.lr_halving_iterations == 600 * main.iterations_per_epoch
    assert main.iterations == 3000 * main.iterations_per_epoch
    assert ablation.iterations == 900 * ablation.iterations_per_epoch
    assert main.iterations_per_epoch == 1000  # the IMDN code base's epoch, see docs/training.md


def test_smoke_profile_is_a_small_budget_on_bundled_images() -> None:
    smoke = training_settings("smoke", epochs=3000)
    assert smoke == training_settings("smoke", epochs=900)
    assert smoke.data == "bundled" and smoke.iterations <= 100 and smoke.hr_patch % 12 == 0
    assert set(PROFILES) == {"paper", "smoke"}


def test_settings_validate_their_arithmetic() -> None:
    with pytest.raises(ValueError, match="iterations"):
        dataclasses.replace(training_settings("smoke", epochs=1), iterations=7)


# --- data ---

def test_bundled_splits_are_disjoint_rgb_images() -> None:
    assert not set(BUNDLED_TRAIN) & set(BUNDLED_EVAL)
    for name in BUNDLED_TRAIN + BUNDLED_EVAL:
        image = load_bundled(name)
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3, name
    camera = load_bundled("camera")  # greyscale in scikit-image: replicated
    assert (camera[..., 0] == camera[..., 2]).all()
    with pytest.raises(UserError, match="unknown bundled image"):
        load_bundled("lena")


def test_patches_are_aligned_and_augmented_consistently() -> None:
    rng = np.random.default_rng(0)
    scale = 3
    lr = rng.integers(0, 256, size=(20, 30, 3), dtype=np.uint8)
    hr = np.repeat(np.repeat(lr, scale, axis=0), scale, axis=1)  # each LR pixel is an s x s HR block
    data = TrainingPatches([TrainingPair("blocks", hr, lr)], scale=scale, hr_patch=24, augment=True,
                           description="test")
    seen = set()
    for sample in range(40):
        lr_patch, hr_patch = data[(5, sample)]
        assert lr_patch.shape == (3, 8, 8) and hr_patch.shape == (3, 24, 24)
        assert lr_patch.dtype == torch.float32 and 0 <= lr_patch.min() and lr_patch.max() <= 1
        expected = lr_patch.repeat_interleave(scale, dim=1).repeat_interleave(scale, dim=2)
        assert torch.equal(hr_patch, expected)
        seen.add(lr_patch.numpy().tobytes())
    assert len(seen) > 30  # random positions and orientations
    first = data[(5, 3)]
    assert all(torch.equal(a, b) for a, b in zip(first, data[(5, 3)]))  # a key always gives the same patch
    assert not torch.equal(first[0], data[(6, 3)][0])


def test_patch_size_must_divide_by_the_scale() -> None:
    with pytest.raises(UserError, match="multiple of the scale"):
        bundled_training_data(3, hr_patch=32)


def test_missing_div2k_folder_is_a_user_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=str(tmp_path / "DIV2K" / "DIV2K_train_HR")):
        div2k_training_data(tmp_path, 2, hr_patch=48)
    (tmp_path / "DIV2K" / "DIV2K_train_HR").mkdir(parents=True)
    with pytest.raises(UserError, match="holds no images"):
        div2k_training_data(tmp_path, 2, hr_patch=48)


def _fake_div2k(root: Path, *, with_lr: bool) -> dict[str, np.ndarray]:
    images = {"0001": load_bundled("astronaut")[:101, :130], "0002": load_bundled("coffee")[:98, :99]}
    for name, hr in images.items():
        write_png(root / "DIV2K" / "DIV2K_train_HR" / f"{name}.png", hr)
        if with_lr:
            cropped = hr[:hr.shape[0] // 2 * 2, :hr.shape[1] // 2 * 2]
            write_png(root / "DIV2K" / "DIV2K_train_LR_bicubic" / "X2" / f"{name}x2.png",
                      imresize_uint8(cropped, 1 / 2))
    return images


@pytest.mark.parametrize("with_lr", [True, False])
def test_div2k_layout_with_and_without_lr_folder_and_disk_cache(tmp_path: Path, with_lr: bool) -> None:
    images = _fake_div2k(tmp_path / "data", with_lr=with_lr)
    plain = div2k_training_data(tmp_path / "data", 2, hr_patch=48)
    said: list[str] = []
    cached = div2k_training_data(tmp_path / "data", 2, hr_patch=48, cache_dir=tmp_path / "cache", say=said.append)
    assert "building the cache" in said[0] and "cache ready" in said[-1]
    said.clear()
    again = div2k_training_data(tmp_path / "data", 2, hr_patch=48, cache_dir=tmp_path / "cache",
                                say=said.append)  # memory-mapped from the cache
    assert len(said) == 1 and "cache ready" in said[0] and "found" in said[0]
    entries = sorted(entry.name.split("-")[0] for entry in (tmp_path / "cache" / "div2k").iterdir()
                     if not entry.name.startswith("."))
    assert entries == ["hr", "lr"]
    assert isinstance(again.pairs[0].hr.base, np.memmap) or isinstance(again.pairs[0].hr, np.memmap)
    for pair, name in zip(plain.pairs, sorted(images)):
        assert pair.name == name and pair.hr.shape[0] % 2 == 0 and pair.hr.shape[1] % 2 == 0
        assert np.array_equal(pair.lr, imresize_uint8(np.asarray(pair.hr), 1 / 2))
    for sample in range(6):
        reference = plain[(1, sample)]
        for other in (cached, again):
            assert all(torch.equal(a, b) for a, b in zip(reference, other[(1, sample)]))


def test_div2k_lr_folder_missing_an_image_is_a_user_error(tmp_path: Path) -> None:
    _fake_div2k(tmp_path, with_lr=True)
    (tmp_path / "DIV2K" / "DIV2K_train_LR_bicubic" / "X2" / "0002x2.png").unlink()
    with pytest.raises(UserError, match="0002x2.png"):
        div2k_training_data(tmp_path, 2, hr_patch=48)


# --- the loop ---

def _run(data: TrainingPatches, settings: TrainSettings, folder: Path, seed: int = 0, **kwargs):
    model = build_mren(2, seed)
    summary = train(model, settings, data=data, seed=seed, checkpoint_dir=folder, device=CPU, **kwargs)
    return model, summary


def _assert_same_weights(first: torch.nn.Module, second: torch.nn.Module) -> None:
    a, b = first.state_dict(), second.state_dict()
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name


@pytest.mark.slow
def test_same_seed_gives_bit_identical_weights(bundled_x2: TrainingPatches, tmp_path: Path) -> None:
    settings = tiny_settings()
    first, summary = _run(bundled_x2, settings, tmp_path / "a")
    second, again = _run(bundled_x2, settings, tmp_path / "b")
    _assert_same_weights(first, second)
    assert summary.curve == again.curve and summary.resumed_from_iteration is None
    assert [point[0] for point in summary.curve] == [3, 6, 8]
    other, _ = _run(bundled_x2, settings, tmp_path / "c", seed=1)
    assert any(not torch.equal(a, b) for a, b in zip(first.state_dict().values(), other.state_dict().values()))
    final = torch.load(tmp_path / "a" / FINAL, weights_only=True)
    assert all(torch.equal(final[name], tensor) for name, tensor in first.state_dict().items())


@pytest.mark.slow
def test_worker_processes_do_not_change_the_data_stream(bundled_x2: TrainingPatches, tmp_path: Path) -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(3)  # a trial with 3 CPUs: two DataLoader workers (and the same compute threads for both)
    try:
        in_process, _ = _run(bundled_x2, tiny_settings(iterations=4), tmp_path / "0")
        with_workers, _ = _run(bundled_x2, tiny_settings(iterations=4, num_workers=2), tmp_path / "2")
    finally:
        torch.set_num_threads(threads)
    _assert_same_weights(in_process, with_workers)


def test_dataloader_workers_follow_the_trials_cpus(bundled_x2: TrainingPatches) -> None:
    from harness.training.loop import _loader, data_workers

    assert data_workers(8, 1) == 0  # one CPU: loading stays in the training process, never 8 workers
    assert data_workers(8, 4) == 3 and data_workers(8, 32) == 8 and data_workers(0, 16) == 0
    threads = torch.get_num_threads()
    try:
        for cpus, expected in ((1, 0), (3, 2)):
            torch.set_num_threads(cpus)  # what the executor does with --cpus-per-trial
            loader = _loader(bundled_x2, training_settings("paper", epochs=1), 0, 0, CPU)
            assert loader.num_workers == expected
    finally:
        torch.set_num_threads(threads)


@pytest.mark.slow
def test_bf16_and_channels_last_run_on_cpu(bundled_x2: TrainingPatches, tmp_path: Path) -> None:
    _, summary = _run(bundled_x2, tiny_settings(iterations=3), tmp_path, bf16=True, channels_last=True)
    assert len(summary.curve) == 1 and 0 < summary.curve[0][1] < 1


class Crash(Exception):
    pass


@pytest.mark.slow
def test_resuming_after_a_crash_equals_an_uninterrupted_run(bundled_x2: TrainingPatches, tmp_path: Path) -> None:
    settings = tiny_settings(iterations=8, checkpoint_every=4)
    uninterrupted, summary = _run(bundled_x2, settings, tmp_path / "once")

    def crash_after_checkpoint(iteration: int, total: int, loss: float) -> None:
        if iteration >= 4:  # the checkpoint at iteration 4 is on disk by now
            raise Crash

    with pytest.raises(Crash):
        _run(bundled_x2, settings, tmp_path / "twice", on_progress=crash_after_checkpoint)
    assert not (tmp_path / "twice" / FINAL).exists()
    resumed, resumed_summary = _run(bundled_x2, settings, tmp_path / "twice", seed=0)
    assert resumed_summary.resumed_from_iteration == 4
    _assert_same_weights(uninterrupted, resumed)
    assert resumed_summary.curve == summary.curve  # the half-finished curve point survives the crash too
    checkpoint = torch.load(tmp_path / "twice" / LAST, weights_only=True)
    assert checkpoint["iteration"] == 8
    assert checkpoint["optimizer"]["param_groups"][0]["lr"] == settings.learning_rate / 4  # halved at 3 and 6

    # A finished run is not trained again: it loads its last checkpoint and returns.
    done, done_summary = _run(bundled_x2, settings, tmp_path / "twice", seed=0)
    assert done_summary.resumed_from_iteration == 8
    _assert_same_weights(uninterrupted, done)


def test_checkpoint_of_another_training_is_refused(bundled_x2: TrainingPatches, tmp_path: Path) -> None:
    _run(bundled_x2, tiny_settings(iterations=2), tmp_path)
    with pytest.raises(UserError, match="another training"):
        _run(bundled_x2, tiny_settings(iterations=2, learning_rate=1e-4), tmp_path)
    with pytest.raises(UserError, match="another training"):
        _run(bundled_x2, tiny_settings(iterations=2), tmp_path, seed=3)
    (tmp_path / LAST).write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="unreadable checkpoint"):
        _run(bundled_x2, tiny_settings(iterations=2), tmp_path)


def test_checkpoint_of_another_trial_or_damaged_is_refused(bundled_x2: TrainingPatches, tmp_path: Path) -> None:
    settings = tiny_settings(iterations=2)
    _run(bundled_x2, settings, tmp_path, owner="aaaaaaaaaaaa")
    # Same model, settings and seed, so the same shapes: only the owner tells them apart.
    with pytest.raises(UserError, match="checkpoint of trial aaaaaaaaaaaa, not of trial bbbbbbbbbbbb"):
        _run(bundled_x2, settings, tmp_path, owner="bbbbbbbbbbbb")
    original = torch.load(tmp_path / LAST, weights_only=True)
    for change, message in [
        (lambda checkpoint: checkpoint.update(iteration=10**9), "claims iteration 1000000000, outside 0..2"),
        (lambda checkpoint: checkpoint.update(iteration=-1), "outside 0..2"),
        (lambda checkpoint: checkpoint.pop("rng"), r"damaged checkpoint \(rng missing"),
        (lambda checkpoint: checkpoint["rng"].pop("numpy"), r"damaged checkpoint \(rng.numpy"),
        (lambda checkpoint: checkpoint.update(loss_count="3"), "loss_count missing or of the wrong type"),
    ]:
        checkpoint = {**original, "rng": dict(original["rng"])}
        change(checkpoint)
        torch.save(checkpoint, tmp_path / LAST)
        with pytest.raises(UserError, match=message):
            _run(bundled_x2, settings, tmp_path, owner="aaaaaaaaaaaa")


@pytest.mark.slow
def test_smoke_trained_mren_x2_beats_bicubic_on_set5(bundled_x2: TrainingPatches, tmp_path: Path,
                                                     shared_dir: Path) -> None:
    settings = training_settings("smoke", epochs=3000)
    set5 = open_benchmark(shared_dir / "benchmarks" / "Set5", 2)
    untrained = evaluate(build_mren(2, seed=0), set5).psnr_y
    model, summary = _run(bundled_x2, settings, tmp_path)
    assert summary.iterations == settings.iterations and summary.curve[-1][1] < summary.curve[0][1]
    trained = evaluate(model, set5).psnr_y
    bicubic = evaluate(registry.build_model("bicubic", registry.make_config("bicubic", 2)), set5).psnr_y
    print(f"Set5 x2 PSNR-Y: MREN untrained {untrained:.3f} dB, after the smoke budget {trained:.3f} dB, "
          f"MATLAB bicubic {bicubic:.3f} dB")
    # MREN adds its own (PyTorch) bicubic upsampling of the input, so the margin over bicubic is small even when
    # the network learned a lot: the untrained network's noise is what training has to remove first.
    assert trained > bicubic + 0.1
    assert trained > untrained + 1
