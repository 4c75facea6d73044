"""Models from outside the harness: `--plugin module.path` and the `mren_harness.models` entry point group.

A plugin is a Python module that calls `harness.registry.register(...)` when imported (docs/plugins.md,
examples/plugin_model.py). The commands that take model names import the `--plugin` modules, and every module named
by an installed package's `mren_harness.models` entry point, before they read a spec or a model name. A run sends the
plugin modules' source to its Ray workers with the harness's own (harness/experiment/ray_session.py), and each trial
imports them again where it runs (harness/experiment/run_trial.py), so no worker needs the driver's files.
"""

import argparse
import importlib
import importlib.metadata
import importlib.util
import sys
from pathlib import Path

from harness.errors import UserError

ENTRY_POINT_GROUP = "mren_harness.models"


def add_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--plugin", dest="plugins", action="append", default=[], metavar="MODULE",
                        help="import MODULE (e.g. examples.plugin_model), which registers models with "
                             "harness.registry.register (repeatable; docs/plugins.md)")


def load_plugins(modules: list[str] | tuple[str, ...]) -> None:
    """Import each `--plugin` module and every `mren_harness.models` entry point; importing twice is a no-op."""
    _ensure_working_folder_on_path()
    for name in modules:
        if not name or not all(part.isidentifier() for part in name.split(".")):
            raise UserError(f"--plugin {name!r} is not a module path such as examples.plugin_model")
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name is not None and name.startswith(error.name):
                raise UserError(f"--plugin {name}: no module {error.name!r} on the Python path (run from the folder "
                                "that holds it, or install it)") from None
            raise UserError(f"--plugin {name}: importing it failed: {error}") from None
        except UserError:
            raise
        except Exception as error:  # a plugin's own bug: named in one line, not a traceback through the harness
            first = str(error).strip().splitlines()[0] if str(error).strip() else ""
            raise UserError(f"--plugin {name}: importing it failed ({type(error).__name__}: {first})") from None
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            loaded = entry_point.load()
        except Exception as error:
            raise UserError(f"entry point {entry_point.name} = {entry_point.value} ({ENTRY_POINT_GROUP}): loading it "
                            f"failed ({type(error).__name__}: {error})") from None
        if callable(loaded) and not isinstance(loaded, type(sys)):
            loaded()  # an entry point may name a module (registers on import) or a function that registers


def _ensure_working_folder_on_path() -> None:
    # `python -m harness` puts the working folder on sys.path, a console script does not: plugins are found from the
    # folder the command runs in either way.
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))


def plugin_sources(modules: list[str] | tuple[str, ...]) -> list[str]:
    """The file or folder of each plugin's top-level package, for Ray's `py_modules` (the worker imports the same
    dotted name from it)."""
    sources = []
    for name in modules:
        top = name.split(".")[0]
        spec = importlib.util.find_spec(top)
        if spec is None:
            continue
        if spec.submodule_search_locations:
            locations = list(spec.submodule_search_locations)
            source = locations[0]
        else:
            source = spec.origin
        if source and source not in sources and Path(source).exists():
            sources.append(source)
    return sources
