"""The grid's price before it runs (harness/experiment/pricing.py): the arithmetic of a projection, calibrations
measured once and then read from the cache, and projections and speeds kept in the records."""

import json
from pathlib import Path

import pytest
import torch
from tiny_grid import tiny_spec

from harness.api import plan_grid
from harness.experiment.environment import environment
from harness.experiment.grid_sinks import ResultsWriter
from harness.experiment.pricing import GridPrice, Placement, TrialPrice, local_placement, price_grid
from harness.experiment.run_trial import TrialResult
from harness.experiment.trial import RunSettings
from harness.experiment.trial_records import build_record
from harness.records import Training, load_records
from harness.results_layout import ResultsLayout

CPU_SLOTS = Placement("cpu", "test CPU", slots=2, sharing=2, threads=1, share_of_device=1.0)


def price(seconds: list[float], done: tuple[int, ...] = (), placement: Placement = CPU_SLOTS) -> GridPrice:
    trials = tuple(TrialPrice(f"t{index}", f"trial {index}", 100, value - 1.0, 1.0, index in done)
                   for index, value in enumerate(seconds))
    return GridPrice(trials, placement, 0.0, 0)


def test_wall_time_follows_the_queue_and_device_hours_add_up() -> None:
    grid = price([10.0, 4.0, 4.0, 4.0])  # two slots: 10 | 4, 4, 4 -> 12
    assert grid.wall_seconds == pytest.approx(12.0)
    assert grid.device_hours == pytest.approx(22.0 / 3600)
    assert grid.iterations == 400
    one_slot = price([10.0, 4.0, 4.0, 4.0], placement=Placement("cpu", "test", 1, 1, 2, 2.0))
    assert one_slot.wall_seconds == pytest.approx(22.0) and one_slot.device_hours == pytest.approx(44.0 / 3600)
    done = price([10.0, 4.0, 4.0, 4.0], done=(0,))
    assert done.wall_seconds == pytest.approx(8.0) and len(done.to_run) == 3
    lines = grid.lines()
    assert len(lines) == 5 and "4 trials ahead, 400 training iterations" in lines[-1] and "CPU-hours" in lines[-1]


def test_quarter_gpus_share_a_card_four_ways() -> None:
    placement = local_placement(cpus_per_trial=1, gpus_per_trial=0.25, num_cpus=8, slots=8)
    if torch.cuda.is_available():
        assert placement.device == "cuda" and placement.sharing == 4 and placement.unit == "GPU-hours"
    else:  # no card: trials run on the CPU, where every slot shares it
        assert placement.device == "cpu" and placement.sharing == 8


@pytest.mark.slow
def test_calibrations_are_measured_once_then_read_from_the_cache(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.experiment import pricing

    monkeypatch.setattr(pricing, "current_load_per_cpu", lambda: FAKE_LOAD)  # a shared machine's load may jump
    settings = RunSettings("smoke", tmp_path / "results")
    plan = plan_grid(tiny_spec(tmp_path), settings)
    placement = local_placement(cpus_per_trial=1, gpus_per_trial=0, num_cpus=1, slots=1)
    notes: list[str] = []
    first = price_grid(plan.trials, settings, placement, done=frozenset(), cache_dir=tmp_path / "cache",
                       on_note=notes.append)
    assert first.calibrated_kinds == 2 and notes and "calibrating 2 kinds" in notes[0]
    for projection in first.trials:
        assert projection.iterations == 90 and projection.train_seconds > 0 and projection.other_seconds > 0
        assert 0 < projection.steps_per_second < 1e5
    assert first.wall_seconds == pytest.approx(sum(projection.seconds for projection in first.trials))
    cached = list((tmp_path / "cache").glob("*.json"))
    assert len(cached) == 1 and len(json.loads(cached[0].read_text())) == 2
    again = price_grid(plan.trials, settings, placement, done=frozenset({plan.trials[0].trial_id}),
                       cache_dir=tmp_path / "cache")
    assert again.calibrated_kinds == 0 and again.trials[1] == first.trials[1]
    assert again.trials[0].done and again.trials[0].seconds == 0 and again.iterations == 90


def test_the_projection_lands_in_the_record(tmp_path: Path) -> None:
    settings = RunSettings("smoke", tmp_path / "results")
    [trial] = plan_grid(tiny_spec(tmp_path), settings).trials[:1]
    writer = ResultsWriter(ResultsLayout(tmp_path / "results"))
    writer.priced(GridPrice((TrialPrice(trial.trial_id, trial.label, 90, 12.3, 4.0, False),), CPU_SLOTS, 0.0, 0))
    record = build_record(trial, metrics={}, params=0, macs=0, macs_input={}, macs_unsupported={}, training=None,
                          visuals={}, environment=environment(torch.device("cpu")), seconds=15.0)
    writer.finished(trial, TrialResult(trial.trial_id, record, {}, 15.0, "no scores"))
    [written] = load_records(tmp_path / "results")
    assert written.projected_seconds == pytest.approx(16.3)


def test_old_records_without_projection_or_speed_still_read(tmp_path: Path) -> None:
    settings = RunSettings("smoke", tmp_path / "results")
    [trial] = plan_grid(tiny_spec(tmp_path), settings).trials[:1]
    record = build_record(trial, metrics={}, params=0, macs=0, macs_input={}, macs_unsupported={}, training=None,
                          visuals={}, environment=environment(torch.device("cpu")), seconds=1.0)
    raw = record.to_json()
    del raw["projected_seconds"]
    path = ResultsLayout(tmp_path / "results").record(trial.trial_id)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(raw))
    [read] = load_records(tmp_path / "results")
    assert read.projected_seconds is None
    training = Training(iterations=3, seconds=1.0, resumed_from_iteration=None, curve=[(3, 0.1)]).model_dump()
    del training["steps_per_second"]
    assert Training.model_validate(training).steps_per_second is None


@pytest.mark.slow
def test_dry_run_prints_iterations_projected_times_and_the_grids_total(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from harness import cli

    monkeypatch.setenv("MREN_CALIBRATION_CACHE", str(tmp_path / "cache"))
    spec = tiny_spec(tmp_path)
    assert cli.main(["run", str(spec), "--profile", "smoke", "--results", str(tmp_path / "r"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    summary = next(line for line in out.splitlines() if line.startswith("projected on"))
    assert "2 trials ahead, 180 training iterations" in summary and "CPU-hours" in summary and "wall time" in summary
    header = next(line for line in out.splitlines() if line.startswith("id "))
    assert "iterations" in header and "projected" in header
    rows = out.splitlines()[out.splitlines().index(header) + 1:]
    assert len(rows) == 2 and all(" 90 " in row and "to run" in row for row in rows)


def test_configs_with_the_same_modules_share_a_calibration() -> None:
    from harness import registry
    from harness.experiment.pricing import _kind_key
    from harness.training.calibration import Kind
    from harness.training.profiles import training_settings

    train = training_settings("smoke", epochs=900)

    def key(overrides: dict, scale: int = 4) -> str:
        return _kind_key(Kind("mren", registry.make_config("mren", scale, overrides), scale, train), CPU_SLOTS, {})

    assert key({"comm_weight": 0.3}) == key({"comm_weight": 0.7})  # a weight's value, not the work
    assert key({"n_mreb": 5}) != key({"n_mreb": 6})
    assert key({}) != key({}, scale=2)
    assert key({}) != _kind_key(Kind("mren", registry.make_config("mren", 4), 4, None), CPU_SLOTS, {})


ONE_SLOT = Placement("cpu", "test CPU", slots=1, sharing=1, threads=1, share_of_device=1.0)
FAKE_LOAD = 0.2  # per CPU, where the fake caches were measured


def fake_cache(folder: Path, trials: list, settings: RunSettings, step_seconds: float, **fields: object) -> Path:
    """A calibration cache holding every kind of `trials` at `step_seconds` a step, and nothing else to pay."""
    from harness.experiment.pricing import _device_key, _kind_key, kind_of
    from harness.training.calibration import Calibration
    from harness.training.profiles import cpu_kernel_environment

    environment_vars = cpu_kernel_environment(settings.profile)
    entries = {_kind_key(kind_of(trial), ONE_SLOT, environment_vars): Calibration(
        step_seconds=step_seconds, step_batch_measured=1, forward_seconds_per_lr_pixel=0.0,
        forward_seconds_per_call=0.0, data_seconds=0.0, measured_seconds=1.0, concurrent=1,
        **{"load_per_cpu": FAKE_LOAD, "measured_at": "2026-12-03T12:00:00Z", **fields}).to_json()
        for trial in trials}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{_device_key(ONE_SLOT, torch.__version__)}.json").write_text(json.dumps(entries))
    return folder


def fake_record(trial, steps_per_second: float, *, execution: str = "eager", compile_seconds: float | None = None,
                **where: object):
    """A finished record of `trial` that trained at `steps_per_second` on this machine (or as `where` says)."""
    from harness.training.profiles import cpu_kernel_environment

    here = environment(torch.device("cpu")).model_copy(update={
        "torch_threads": 1, "kernel_overrides": {**cpu_kernel_environment("smoke"), "OMP_NUM_THREADS": "1"},
        **where})
    iterations = trial.config.train.iterations
    training = Training(iterations=iterations, seconds=iterations / steps_per_second, resumed_from_iteration=None,
                        curve=[], steps_per_second=steps_per_second, execution=execution,
                        compile_seconds=compile_seconds)
    return build_record(trial, metrics={}, params=0, macs=0, macs_input={}, macs_unsupported={}, training=training,
                        visuals={}, environment=here, seconds=1.0)


@pytest.fixture
def no_kernel_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """No kernel variable in this process, and the load the fake caches were measured at (harness/experiment/
    pricing.py measures a calibration again under another load)."""
    from harness.experiment import pricing
    from harness.experiment.environment import KERNEL_VARIABLES

    for name in KERNEL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(pricing, "current_load_per_cpu", lambda: FAKE_LOAD)


def test_earlier_records_of_a_kind_price_its_steps(tmp_path: Path, no_kernel_variables: None) -> None:
    settings = RunSettings("smoke", tmp_path / "results")
    osa, scacb = plan_grid(tiny_spec(tmp_path), settings).trials
    cache = fake_cache(tmp_path / "cache", [osa, scacb], settings, step_seconds=0.5)
    records = [fake_record(osa, 10.0), fake_record(osa, 5.0),  # steps of 0.1 s and 0.2 s: a mean of 0.15 s
               fake_record(scacb, 100.0, hostname="another-host"),  # measured elsewhere
               fake_record(scacb, 100.0, torch_threads=4),  # with other threads
               fake_record(scacb, 100.0, execution="compiled")]  # another execution than smoke's eager
    grid = price_grid([osa, scacb], settings, ONE_SLOT, done=frozenset(), cache_dir=cache, records=records)
    assert grid.trials[0].train_seconds == pytest.approx(90 * 0.15, rel=1e-3)
    assert grid.trials[1].train_seconds == pytest.approx(90 * 0.5)  # the calibration: no record fits
    assert (grid.steps_from_records, grid.steps_from_calibrations) == (1, 1)
    assert "steps of 1 training kind from earlier records, 1 from calibrations" in grid.summary()
    without = price_grid([osa, scacb], settings, ONE_SLOT, done=frozenset(), cache_dir=cache)
    assert without.trials[0].train_seconds == pytest.approx(90 * 0.5) and without.steps_from_records == 0


def test_a_run_prices_from_the_records_of_its_results_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness import api
    from harness.experiment.ray_executor import ClusterOptions
    from harness.records import write_record

    settings = RunSettings("smoke", tmp_path / "results")
    plan = plan_grid(tiny_spec(tmp_path), settings)
    write_record(settings.results_dir, fake_record(plan.trials[0], 10.0))
    seen: dict = {}
    monkeypatch.setattr(api, "price_grid", lambda *args, **kwargs: seen.update(kwargs))
    api.price_plan(plan, settings, ClusterOptions())
    assert [record.trial_id for record in seen["records"]] == [plan.trials[0].trial_id]


def test_compile_time_comes_from_records_then_the_cache_else_is_said_unknown(tmp_path: Path,
                                                                              no_kernel_variables: None) -> None:
    from harness.experiment.grid_sinks import CompileTimeKeeper

    settings = RunSettings("smoke", tmp_path / "results", execution="compiled")
    osa, scacb = plan_grid(tiny_spec(tmp_path), settings).trials
    cache = fake_cache(tmp_path / "cache", [osa, scacb], settings, step_seconds=0.5)
    unknown = price_grid([osa, scacb], settings, ONE_SLOT, done=frozenset(), cache_dir=cache)
    assert [price.compile_seconds for price in unknown.trials] == [0.0, 0.0] and unknown.compile_unknown == 2
    assert "compile time not yet known for 2 compiled kinds, not included" in unknown.summary()
    # 90 steady steps of 0.1 s after 30 s of compiling: the record's speed is 90 / 39 s
    records = [fake_record(osa, 90 / 39.0, execution="compiled", compile_seconds=30.0)]
    grid = price_grid([osa, scacb], settings, ONE_SLOT, done=frozenset(), cache_dir=cache, records=records)
    assert grid.trials[0].train_seconds == pytest.approx(9.0, rel=1e-3)
    assert grid.trials[0].compile_seconds == pytest.approx(30.0) and grid.compile_unknown == 1
    assert grid.trials[0].seconds == pytest.approx(39.0, rel=1e-3) and "compile 0m30s" in grid.lines()[0]
    # the finished compiled trial writes its compile time back into its kind's calibration
    keeper = CompileTimeKeeper()
    keeper.priced(grid)
    keeper.finished(scacb, TrialResult(scacb.trial_id, fake_record(scacb, 2.0, execution="compiled",
                                                                    compile_seconds=12.0), {}, 1.0, ""))
    again = price_grid([osa, scacb], settings, ONE_SLOT, done=frozenset(), cache_dir=cache)
    assert again.trials[1].compile_seconds == pytest.approx(12.0) and again.trials[1].train_seconds == 45.0
    assert again.compile_unknown == 1  # osa: its record is not in this projection, and nothing was written for it
    eager = price_grid([osa, scacb], RunSettings("smoke", tmp_path / "results"), ONE_SLOT, done=frozenset(),
                       cache_dir=cache, records=records)
    assert eager.compile_unknown == 0 and all(price.compile_seconds == 0 for price in eager.trials)


def test_cache_entries_written_before_compile_times_still_read(tmp_path: Path, no_kernel_variables: None) -> None:
    settings = RunSettings("smoke", tmp_path / "results")
    trials = plan_grid(tiny_spec(tmp_path), settings).trials
    cache = fake_cache(tmp_path / "cache", trials, settings, step_seconds=0.5)
    [path] = cache.glob("*.json")
    older = {key: {name: value for name, value in entry.items() if name != "compile_seconds"}
             for key, entry in json.loads(path.read_text()).items()}
    path.write_text(json.dumps(older))
    grid = price_grid(trials, settings, ONE_SLOT, done=frozenset(), cache_dir=cache)
    assert grid.calibrated_kinds == 0 and grid.trials[0].train_seconds == pytest.approx(45.0)


@pytest.fixture
def fake_calibrations(monkeypatch: pytest.MonkeyPatch) -> list:
    """Calibrations measured at once, as steps of 0.25 s, instead of in child processes; the kinds measured."""
    from harness.experiment import pricing
    from harness.training.calibration import Calibration

    measured: list = []

    def calibrate(kinds, settings, placement, environment, keep) -> None:
        for kind in kinds:
            measured.append(kind)
            keep(kind, Calibration(0.25, 1, 0.0, 0.0, 0.0, 0.1, 1))

    monkeypatch.setattr(pricing, "_calibrate", calibrate)
    return measured


def test_calibrations_from_another_load_are_measured_again(tmp_path: Path, no_kernel_variables: None,
                                                           fake_calibrations: list,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.experiment import pricing

    settings = RunSettings("smoke", tmp_path / "results")
    trials = plan_grid(tiny_spec(tmp_path), settings).trials
    cache = fake_cache(tmp_path / "cache", trials, settings, step_seconds=0.5, compile_seconds={"compiled": 7.0})
    notes: list[str] = []
    monkeypatch.setattr(pricing, "current_load_per_cpu", lambda: 1.4)  # contention 1.4 against 1: close enough
    grid = price_grid(trials, settings, ONE_SLOT, done=frozenset(), cache_dir=cache, on_note=notes.append)
    assert grid.calibrated_kinds == 0 and not fake_calibrations and not notes
    monkeypatch.setattr(pricing, "current_load_per_cpu", lambda: 3.0)  # three trials to a core: a third as fast
    grid = price_grid(trials, settings, ONE_SLOT, done=frozenset(), cache_dir=cache, on_note=notes.append)
    assert grid.calibrated_kinds == 2 and len(fake_calibrations) == 2
    assert grid.trials[0].train_seconds == pytest.approx(90 * 0.25)
    assert notes[0].startswith("re-calibrating 2 cached kinds: measured at load 0.2 per CPU (from "
                               "2026-12-03T12:00:00Z); now 3.0 per CPU")
    [path] = cache.glob("*.json")
    for entry in json.loads(path.read_text()).values():
        assert entry["load_per_cpu"] == 3.0 and entry["measured_at"] != "2026-12-03T12:00:00Z"
        assert entry["compile_seconds"] == {"compiled": 7.0}  # no calibration measures it: kept
    again = price_grid(trials, settings, ONE_SLOT, done=frozenset(), cache_dir=cache)  # still at load 3.0
    assert again.calibrated_kinds == 0 and len(fake_calibrations) == 2


def test_recalibrate_ignores_the_cache_and_entries_without_a_load_are_measured_again(
        tmp_path: Path, no_kernel_variables: None, fake_calibrations: list) -> None:
    settings = RunSettings("smoke", tmp_path / "results")
    trials = plan_grid(tiny_spec(tmp_path), settings).trials
    cache = fake_cache(tmp_path / "cache", trials, settings, step_seconds=0.5)
    notes: list[str] = []
    grid = price_grid(trials, settings, ONE_SLOT, done=frozenset(), cache_dir=cache, on_note=notes.append,
                      recalibrate=True)
    assert grid.calibrated_kinds == 2 and notes[0] == "re-calibrating 2 cached kinds: --recalibrate"
    [path] = cache.glob("*.json")
    entries = json.loads(path.read_text())
    first = sorted(entries)[0]
    entries[first] = {name: value for name, value in entries[first].items()
                      if name not in ("load_per_cpu", "measured_at")}  # as written before loads were kept
    path.write_text(json.dumps(entries))
    notes.clear()
    grid = price_grid(trials, settings, ONE_SLOT, done=frozenset(), cache_dir=cache, on_note=notes.append)
    assert grid.calibrated_kinds == 1 and len(fake_calibrations) == 3
    assert notes[0] == "re-calibrating 1 cached kind: 1 without a recorded load (now 0.2 per CPU)"


def test_a_lone_trial_is_calibrated_alone(tmp_path: Path, no_kernel_variables: None, fake_calibrations: list,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.experiment import pricing

    settings = RunSettings("smoke", tmp_path / "results")
    osa, scacb = plan_grid(tiny_spec(tmp_path), settings).trials
    shared: list[int] = []
    calibrate = pricing._calibrate
    monkeypatch.setattr(pricing, "_calibrate", lambda kinds, settings, placement, environment, keep: (
        shared.append(placement.sharing), calibrate(kinds, settings, placement, environment, keep)))
    alone = price_grid([osa, scacb], settings, CPU_SLOTS, done=frozenset({scacb.trial_id}),
                       cache_dir=tmp_path / "cache")
    both = price_grid([osa, scacb], settings, CPU_SLOTS, done=frozenset(), cache_dir=tmp_path / "cache")
    assert shared == [1, 2] and alone.placement.sharing == 1 and both.placement.sharing == 2


def test_inference_is_timed_as_the_median_of_repeated_calls() -> None:
    """One slow call (a loaded machine's hiccup) must not set the price of every evaluation."""
    import time as clock

    from harness.training.calibration import FORWARD_LR_SIDES, _forward_costs

    class Hiccup(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.calls = 0

        def forward(self, lr: torch.Tensor) -> torch.Tensor:
            self.calls += 1
            clock.sleep(0.3 if self.calls == 2 else 0.002)  # the first timed call at the first size stalls
            return lr

    model = Hiccup()
    per_pixel, per_call = _forward_costs(model, torch.device("cpu"), torch.float32)
    assert model.calls == 2 * (1 + 3)  # one untimed call and three timed ones per size
    assert per_call < 0.05 and per_pixel * FORWARD_LR_SIDES[1] ** 2 < 0.05
