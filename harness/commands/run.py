"""`python -m harness run SPEC`: run every trial of an experiment spec (ablations/*.yaml) that has no record yet.

The spec is validated in full, and the data and weights every trial needs are checked, before anything runs.
Trials run as Ray tasks (a private local Ray unless --address is given: docs/cluster.md); each finished trial comes
back to this process, which writes `<results>/trials/<trial_id>.json`. A trial with a record is done and skipped; an
interrupted one resumes from its checkpoint in --storage. Exit status: 0 when every trial is done, 1 when some
failed, 2 on bad input (also found inside a trial, such as weights that do not fit), 130 on Ctrl-C or SIGTERM.
One run at a time uses a results folder (its lock: harness/experiment/lock.py).
"""

import argparse
import os
import sys
import typing
from pathlib import Path

import torch

from harness import outputs, plugins
from harness.api import check_inputs, describe_plan, plan_grid, price_plan, run_grid
from harness.commands.options import parse_overrides
from harness.errors import UserError
from harness.experiment import storage
from harness.experiment.grid_policy import GridPlan
from harness.experiment.grid_sinks import standard_sinks
from harness.experiment.pricing import GridPrice, duration
from harness.experiment.overrides import (Overrides, apply_model_overrides, parse_only, parse_seeds, replace_seeds,
                                          select_rows, split_overrides)
from harness.experiment.ray_executor import ClusterOptions, describe_resources, trial_resources
from harness.experiment.resources import check_resources
from harness.experiment.spec import EvalSet, SpecTrial, load_spec
from harness.experiment.trial import RunSettings
from harness.experiment.trial_logs import check_wandb
from harness.results_layout import ResultsLayout
from harness.training.execution import AUTO, EXECUTION_CHOICES
from harness.training.profiles import PROFILES


def add_parser(subparsers: argparse._SubParsersAction, name: str) -> None:
    parser = subparsers.add_parser(name, help="run the trials of an experiment spec", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("spec", type=Path, help="experiment spec, e.g. ablations/paper.yaml (format: docs/specs.md)")
    parser.add_argument("--profile", choices=PROFILES, default="paper",
                        help="training profile: the paper's recipe, or a seconds-long smoke run (default: paper)")
    parser.add_argument("--data-root", type=Path, default=_env_path("MREN_DATA_ROOT"),
                        help="folder holding the evaluation sets (Set5, Set14, ...) and DIV2K "
                             "(default: $MREN_DATA_ROOT)")
    parser.add_argument("--weights-dir", type=Path, default=_env_path("MREN_WEIGHTS_DIR"),
                        help="folder holding released weights such as IMDN_x4.pth (default: $MREN_WEIGHTS_DIR)")
    parser.add_argument("--results", type=Path, default=Path("results"),
                        help="results folder: trials/, checkpoints/, visuals/ (default: results)")
    parser.add_argument("--cache", type=Path, default=None, metavar="DIR",
                        help="folder of the decoded-DIV2K cache, shared by runs and results folders (default: "
                             "$MREN_CACHE, else $XDG_CACHE_HOME/mren-harness or ~/.cache/mren-harness; on a cluster "
                             "each node's $MREN_NODE_CACHE or $TMPDIR/mren-cache; docs/training.md)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="change every trial: a model config field (n_mreb=5), a training setting "
                             "(train.learning_rate=4e-4) or the scale (scale=2); repeatable (docs/specs.md)")
    parser.add_argument("--only", action="append", default=[], metavar="TABLE:ROW",
                        help="run only the trials feeding this table row, e.g. table3:OSA (repeatable)")
    parser.add_argument("--seeds", metavar="N|S1,S2,...",
                        help="replace the spec's seeds: a count (3 means 0,1,2) or a list (0,5,7)")
    plugins.add_argument(parser)
    parser.add_argument("--wandb", metavar="PROJECT", default=None,
                        help="also log each trial's scalars to Weights & Biases under PROJECT (needs the wandb "
                             "package; off by default; docs/observability.md)")
    parser.add_argument("--dry-run", action="store_true",
                        help="list the trials (id, settings, table rows, resources, iterations, projected time, done "
                             "or not), the grid's projected device-hours and wall time, and exit")
    parser.add_argument("--no-price", action="store_true",
                        help="skip the projection of each trial's time (a few seconds' calibration per kind of trial "
                             "not in the cache: docs/cluster.md)")
    parser.add_argument("--recalibrate", action="store_true",
                        help="measure every kind of trial again for the projection, ignoring the calibration cache "
                             "(a kind cached under another machine load is measured again anyway: docs/cluster.md)")
    parser.add_argument("--force", action="store_true",
                        help="rerun trials that already have a record, from scratch (their checkpoints are deleted)")
    parser.add_argument("--retries", type=int, default=1, help="extra attempts for a failed trial (default: 1)")
    parser.add_argument("--cpus-per-trial", type=float, default=1.0,
                        help="CPUs per trial; also its torch thread count (default: 1)")
    parser.add_argument("--gpus-per-trial", type=float, default=None,
                        help="GPUs per trial; a fraction shares a card between trials "
                             "(default: 1 when there are GPUs, else 0)")
    parser.add_argument("--execution", choices=EXECUTION_CHOICES, default=AUTO,
                        help="how training steps run: eager PyTorch, torch.compile, or torch.compile with CUDA "
                             "graphs (CUDA only); auto: eager for smoke, compiled for paper (default: auto; "
                             "not part of trial ids)")
    parser.add_argument("--address", default=None,
                        help="address of an existing Ray cluster (default: start a private local Ray on loopback)")
    parser.add_argument("--num-cpus", type=int, default=None,
                        help="CPUs of the local Ray (default: every core); not with --address")
    parser.add_argument("--storage", default=None, metavar="LOCATION",
                        help="where training checkpoints live: a folder (shared by every node on a cluster, such as "
                             "NFS) or a URI fsspec opens (s3://..., gs://...) (default: <results>/checkpoints; with "
                             "--address: each worker node's local disk)")
    parser.add_argument("--wait", action="store_true",
                        help="when another run holds the results folder, wait for it to end instead of failing")


def _env_path(variable: str) -> Path | None:
    value = os.environ.get(variable)
    return Path(value) if value else None


def main(args: argparse.Namespace) -> int:
    """Check the spec, every output location and resource request before anything runs; then run the grid, which
    holds the results folder's lock for the run (harness/api.py run_grid). A dry run only reads."""
    if args.retries < 0:
        raise UserError(f"--retries must be 0 or more, got {args.retries}")
    if args.recalibrate and args.no_price:
        raise UserError("--recalibrate measures the projection that --no-price skips: give one of them")
    cluster = _cluster_options(args)
    plugins.load_plugins(args.plugins)  # before the spec: it may name plugin models
    overrides = split_overrides(parse_overrides(args.overrides))
    if args.results.exists() and not args.results.is_dir():
        raise UserError(f"--results {args.results} is a file, not a folder")
    settings = RunSettings(profile=args.profile, results_dir=args.results, data_root=args.data_root,
                           weights_dir=args.weights_dir, storage=_storage(args), cache_dir=args.cache,
                           train_overrides=overrides.train, plugins=tuple(args.plugins), execution=args.execution)
    if not args.dry_run:
        _check_outputs(args)
    spec_trials = _command_line_changes(load_spec(args.spec), args, overrides)
    plan = plan_grid(spec_trials, settings)
    if args.dry_run:
        print(describe_plan(plan, str(args.spec), args.profile))
        _say_overrides(args)
        priced = args.address is None and not args.no_price
        price = (price_plan(plan, settings, cluster, force=args.force, on_note=print,
                            recalibrate=args.recalibrate) if priced else None)
        # before the listing, whose rows end the output (scripts read the ids there)
        if price is not None:
            print(price.summary())
        elif args.address is not None:
            print("not priced: the trials run on the cluster's devices, not this machine's")
        _print_listing(plan, cluster, price, force=args.force)
        for problem in plan.problems:
            print(f"problem: {problem}")
        return 2 if plan.problems else 0
    if args.wandb is not None:
        check_wandb()
    check_inputs(plan, cluster=args.address is not None)
    _say_overrides(args)
    sinks = standard_sinks(args.results, profile=args.profile, spec=str(args.spec), wandb_project=args.wandb,
                           show_nodes=args.address is not None)
    result = run_grid(spec_trials, settings, cluster=cluster, retries=args.retries, force=args.force, sinks=sinks,
                      wait=args.wait, name=str(args.spec), price=not args.no_price,
                      recalibrate=args.recalibrate)
    if not result.finished and not result.failures:
        return 0  # nothing was left to run
    layout = ResultsLayout(args.results)
    print(f"{len(result.finished)} trial{'s' if len(result.finished) != 1 else ''} finished, "
          f"{len(result.failures)} failed, in {result.wall_seconds:.1f} s; records in {layout.trials}")
    for failure in result.failures:
        trial = failure.trial
        if failure.bad_input:
            print(f"error: trial {trial.trial_id} ({trial.label}): {failure.error}", file=sys.stderr)
        else:
            print(f"failed: {trial.trial_id} {trial.label} [{trial.feeds_text}]: {failure.error} (log: "
                  f"{layout.log(trial.trial_id)}; traceback: {layout.failure(trial.trial_id)})", file=sys.stderr)
    if result.bad_input:
        return 2  # bad input, found only inside a trial: the same status as bad input found before the run
    return 1 if result.failures else 0


def _say_overrides(args: argparse.Namespace) -> None:
    if args.overrides:
        print(f"--set {' '.join(args.overrides)}: in every trial's config (and so its id) where it applies")


def _check_outputs(args: argparse.Namespace) -> None:
    """The results folder, the folders a run writes in it, and a local --storage folder must be writable."""
    outputs.check_output_folder(args.results, "--results")
    inputs = {"--data-root": args.data_root, "--weights-dir": args.weights_dir, "the spec": args.spec}
    inputs = {name: path for name, path in inputs.items() if path is not None}
    written = {"--results": args.results}
    if args.storage is not None and args.storage.strip() and not storage.is_uri(args.storage):
        written["--storage"] = Path(args.storage).expanduser()
    for what, out in written.items():
        outputs.check_apart(out, what, inputs, _scanned_data(args.data_root))
    for folder in ResultsLayout(args.results).written_folders:
        if folder.exists() or folder.is_symlink():
            outputs.check_output_folder(folder, f"--results {args.results}: its")
    if args.storage is not None and args.storage.strip() and not storage.is_uri(args.storage) and args.address is None:
        # On a cluster the folder is the nodes' (a shared mount), which this machine may not have.
        outputs.check_output_folder(Path(args.storage).expanduser(), "--storage")
    if args.cache is not None and args.address is None:  # on a cluster the folder is each node's
        outputs.check_output_folder(args.cache, "--cache")


def _scanned_data(root: Path | None) -> dict[str, Path]:
    """The data root's folders whose every entry a trial reads (the evaluation sets, DIV2K): nothing a run writes
    may land in them. Other folders beside them (a results folder kept in the data root) are no input."""
    if root is None:
        return {}
    return {f"data folder {name}": root / name for name in (*typing.get_args(EvalSet), "DIV2K")}


def _command_line_changes(spec_trials: list[SpecTrial], args: argparse.Namespace,
                          overrides: Overrides) -> list[SpecTrial]:
    """--only, then --seeds, then --set (harness/experiment/overrides.py)."""
    spec_trials = select_rows(spec_trials, parse_only(args.only))
    if args.seeds is not None:
        spec_trials = replace_seeds(spec_trials, parse_seeds(args.seeds))
    return apply_model_overrides(spec_trials, overrides)


def _storage(args: argparse.Namespace) -> str | None:
    """The checkpoint location; None on a cluster without --storage (each node's own disk)."""
    if args.storage is None:
        return None
    if not args.storage.strip():
        raise UserError("--storage is empty: give a folder or a URI such as s3://bucket/checkpoints")
    if args.address is not None and not storage.is_uri(args.storage) and not Path(args.storage).is_absolute():
        raise UserError(f"--storage {args.storage}: on a cluster give an absolute path that every node mounts, "
                        "or a URI")
    return storage.check_location(args.storage)


def _cluster_options(args: argparse.Namespace) -> ClusterOptions:
    if args.num_cpus is not None and (args.num_cpus < 1 or args.address is not None):
        raise UserError("--num-cpus sizes the local Ray: a positive integer, and not with --address")
    check_resources(args.cpus_per_trial, args.gpus_per_trial, local=args.address is None, num_cpus=args.num_cpus)
    return ClusterOptions(address=args.address, num_cpus=args.num_cpus, cpus_per_trial=args.cpus_per_trial,
                          gpus_per_trial=args.gpus_per_trial)


def _print_listing(plan: GridPlan, cluster: ClusterOptions, price: GridPrice | None, *, force: bool) -> None:
    resources = describe_resources(trial_resources(cluster, torch.cuda.device_count()))
    to_run = {trial.trial_id for trial in plan.to_run(force=force)}

    def projected(trial_id: str) -> tuple[str, str]:
        projection = price.projection(trial_id) if price is not None else None
        if projection is None or projection.done:
            return "-", "-"
        return f"{projection.iterations:,}", duration(projection.seconds)

    rows = [(trial.trial_id, trial.label, trial.feeds_text, resources, *projected(trial.trial_id),
             "to run" if trial.trial_id in to_run else "done") for trial in plan.trials]
    header = ("id", "trial", "feeds", "resources", "iterations", "projected", "status")
    widths = [max(len(row[column]) for row in [header, *rows]) for column in range(len(header) - 1)]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1])
