"""The layers of docs/design.md, read from the source: every import statement of harness/, mren/ and baselines/
(also those inside functions and `if TYPE_CHECKING:` blocks) goes down or sideways within its own package, no module
reaches itself through imports, and each shared fact is a literal in one module only.

Each rule is a pure function of the parsed source, and each is also run on a small bad example, so that it can fail.
"""

import ast
import sys
from pathlib import Path

import pytest

from conftest import REPO_ROOT

PACKAGES = ("harness", "mren", "baselines")

# Bottom to top (docs/design.md). A module may import its own group and any group of a lower layer; groups that share
# a layer (mren and baselines, experiment and reporting) do not import each other. A module belongs to the group of
# the longest name below that is it or one of its packages: a new module at the top of harness/ is shared.
LAYERS: tuple[dict[str, tuple[str, ...]], ...] = (
    {"mren": ("mren",), "baselines": ("baselines",)},
    {"shared": ("harness",)},  # errors, atomic, conventions, results_layout, registry, records, plugins, outputs
    {"published": ("harness.published",)},
    {"data": ("harness.data",)},
    {"evaluation": ("harness.evaluation",)},
    {"training": ("harness.training",)},
    {"experiment": ("harness.experiment",), "reporting": ("harness.reporting",)},
    {"library": ("harness.api",)},
    {"commands": ("harness.commands", "harness.cli", "harness.__main__")},
)
MODEL_GROUPS = ("mren", "baselines")
MODEL_LIBRARIES = ("torch",)  # besides the standard library, all that models import

# Literals that have one home each. A value counts where it is written as a literal, not where it is used by name.
SCALES_HOME = "harness/conventions.py"
METRIC_COLUMNS_HOME = "harness/conventions.py"
BT601_HOME = "baselines/bt601.py"
BT601_COEFFICIENTS = {65.481, 128.553, 24.966, 37.797, 74.203, 93.786, 18.214}  # signs are unary minus, not literal
RESULTS_LAYOUT_HOME = "harness/results_layout.py"
RESULTS_FOLDERS = {"trials", "visuals", "failures", "logs", "tensorboard", "checkpoints", "cache", "report"}
RESULTS_FILES = {"run_state.json", "run.lock"}


# --- reading the source ---------------------------------------------------------------------------------------------

def module_files(root: Path = REPO_ROOT) -> dict[str, Path]:
    """Dotted module name -> file, for every module of PACKAGES."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def imported_names(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """Every name an import statement anywhere in `tree` imports: `from a import b` gives both a.b and a (b may be a
    module or a name in a); relative imports are resolved against `module`."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")[:len(module.split(".")) - node.level + is_package]
                base = ".".join(anchor + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def import_graph(modules: dict[str, Path]) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(module -> the project's modules it imports, module -> the top-level names of the libraries it imports)."""
    edges, libraries = {}, {}
    for module, path in modules.items():
        names = imported_names(ast.parse(path.read_text(encoding="utf-8")), module, path.name == "__init__.py")
        edges[module] = {_known(name, modules) for name in names if name.split(".")[0] in PACKAGES} - {module}
        libraries[module] = {name.split(".")[0] for name in names if name.split(".")[0] not in PACKAGES}
    return edges, libraries


def _known(name: str, modules: dict[str, Path]) -> str:
    """The longest module of the project that `name` is or lies in (`harness.registry.register` -> harness.registry)."""
    parts = name.split(".")
    while ".".join(parts) not in modules:
        parts.pop()
    return ".".join(parts)


# --- the rules ------------------------------------------------------------------------------------------------------

def group_of(module: str) -> tuple[int, str]:
    """(layer index, group name) of `module`."""
    matches = [(len(prefix), layer, group) for layer, groups in enumerate(LAYERS) for group, prefixes in groups.items()
               for prefix in prefixes if module == prefix or module.startswith(prefix + ".")]
    if not matches:
        raise LookupError(f"{module} belongs to no layer of LAYERS")
    _, layer, group = max(matches)
    return layer, group


def upward_imports(edges: dict[str, set[str]]) -> list[str]:
    """Imports that leave the importer's group for one that is not below it."""
    wrong = []
    for module, targets in sorted(edges.items()):
        layer, group = group_of(module)
        for target in sorted(targets):
            target_layer, target_group = group_of(target)
            if target_group != group and target_layer >= layer:
                wrong.append(f"{module} ({group}) imports {target} ({target_group})")
    return wrong


def model_libraries(libraries: dict[str, set[str]]) -> list[str]:
    """Libraries other than torch and the standard library that models import."""
    return [f"{module} imports {library}" for module, found in sorted(libraries.items())
            if group_of(module)[1] in MODEL_GROUPS
            for library in sorted(found - set(MODEL_LIBRARIES) - sys.stdlib_module_names)]


def import_cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted: every import cycle."""
    index: dict[str, int] = {}
    lowest: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []

    def visit(module: str) -> None:
        index[module] = lowest[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in edges.get(module, ()):
            if target not in index:
                visit(target)
                lowest[module] = min(lowest[module], lowest[target])
            elif target in on_stack:
                lowest[module] = min(lowest[module], index[target])
        if lowest[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(edges):
        if module not in index:
            visit(module)
    return sorted(cycles)


def _constants(node: ast.AST) -> list:
    return [element.value if isinstance(element, ast.Constant) else None for element in node.elts]


def literal_facts(tree: ast.AST) -> set[str]:
    """Which of the one-place facts `tree` writes as literals."""
    facts = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            values = _constants(node)
            if sorted(values, key=repr) == [2, 3, 4] and all(type(value) is int for value in values):
                facts.add("scales")
            if sorted(values, key=repr) == ["psnr_y", "ssim_y"]:
                facts.add("metric columns")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range":
            if [getattr(arg, "value", None) for arg in node.args] == [2, 5]:
                facts.add("scales")
        elif isinstance(node, ast.Constant):
            if type(node.value) is float and node.value in BT601_COEFFICIENTS:
                facts.add("BT.601")
            if node.value in RESULTS_FILES:
                facts.add("results layout")
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            if any(isinstance(side, ast.Constant) and side.value in RESULTS_FOLDERS for side in (node.left, node.right)):
                facts.add("results layout")
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            if node.value.value in RESULTS_FOLDERS and all(isinstance(target, ast.Name) for target in node.targets):
                facts.add("results layout")
        elif isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
            if any(str(node.values[0].value).startswith(f"{folder}/") for folder in RESULTS_FOLDERS):
                facts.add("results layout")
    return facts


def misplaced_facts(sources: dict[str, str]) -> list[str]:
    """`file: fact` for every one-place fact written as a literal outside its home (sources: file -> text)."""
    homes = {"scales": SCALES_HOME, "metric columns": METRIC_COLUMNS_HOME, "BT.601": BT601_HOME,
             "results layout": RESULTS_LAYOUT_HOME}
    wrong = []
    for name, text in sorted(sources.items()):
        for fact in sorted(literal_facts(ast.parse(text))):
            if homes[fact] != name:
                wrong.append(f"{name}: {fact}")
    return wrong


# --- the project ----------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def graph() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    return import_graph(module_files())


def test_every_import_goes_down_the_layers(graph) -> None:
    edges, _ = graph
    assert len(edges) > 50 and "harness.experiment.spec" in edges  # the source was read
    assert "harness.published.paper" in edges["harness.experiment.spec"]
    assert upward_imports(edges) == []


def test_experiment_and_reporting_do_not_import_each_other(graph) -> None:
    edges, _ = graph
    between = [(module, target) for module, targets in edges.items() for target in targets
               if {group_of(module)[1], group_of(target)[1]} == {"experiment", "reporting"}]
    assert between == []


def test_nothing_imports_the_commands(graph) -> None:
    edges, _ = graph
    top = len(LAYERS) - 1
    assert [(module, target) for module, targets in edges.items() for target in targets
            if group_of(target)[0] == top and group_of(module)[0] != top] == []


def test_models_import_only_torch_and_themselves(graph) -> None:
    edges, libraries = graph
    assert "torch" in libraries["mren.model"]
    assert model_libraries(libraries) == []
    assert [f"{module} imports {target}" for module, targets in edges.items() if group_of(module)[1] in MODEL_GROUPS
            for target in targets if group_of(target)[1] != group_of(module)[1]] == []


def test_no_import_cycles(graph) -> None:
    edges, _ = graph
    assert import_cycles(edges) == []


def test_each_fact_is_a_literal_in_one_module() -> None:
    sources = {path.relative_to(REPO_ROOT).as_posix(): path.read_text(encoding="utf-8")
               for path in module_files().values()}
    assert misplaced_facts(sources) == []
    homes = {SCALES_HOME: {"scales", "metric columns"}, BT601_HOME: {"BT.601"}, RESULTS_LAYOUT_HOME: {"results layout"}}
    for home, facts in homes.items():  # and each home does hold its literals, so that the scan finds them
        assert literal_facts(ast.parse(sources[home])) == facts, home


# --- each rule fails on a bad example -------------------------------------------------------------------------------

def test_the_rules_catch_a_bad_import_graph() -> None:
    edges = {
        "harness.data.benchmark": {"harness.evaluation.metrics"},  # up a layer
        "harness.experiment.spec": {"harness.reporting.paper"},  # sideways between experiment and reporting
        "harness.evaluation.evaluate": {"harness.evaluation.protocols", "harness.data.images"},
        "harness.evaluation.protocols": {"harness.evaluation.evaluate"},  # a cycle inside one package
        "harness.registry": {"harness.commands.run"},  # into the commands
        "harness.reporting.tables": {"harness.published.paper", "harness.records"},  # fine
        "mren.model": {"baselines.srcnn"},  # a model importing another family
    }
    assert upward_imports(edges) == [
        "harness.data.benchmark (data) imports harness.evaluation.metrics (evaluation)",
        "harness.experiment.spec (experiment) imports harness.reporting.paper (reporting)",
        "harness.registry (shared) imports harness.commands.run (commands)",
        "mren.model (mren) imports baselines.srcnn (baselines)",
    ]
    assert import_cycles(edges) == [["harness.evaluation.evaluate", "harness.evaluation.protocols"]]
    assert model_libraries({"baselines.srcnn": {"torch", "math", "numpy"}, "harness.data.matlab": {"numpy"}}) == [
        "baselines.srcnn imports numpy"]
    with pytest.raises(LookupError):
        group_of("elsewhere.module")


def test_the_import_reader_sees_every_kind_of_import() -> None:
    source = ("from typing import TYPE_CHECKING\n"
              "if TYPE_CHECKING:\n    from harness.reporting import tables\n"
              "def late():\n    import harness.experiment.spec\n    from ..data import images\n"
              "    from . import protocols\n")
    names = imported_names(ast.parse(source), "harness.evaluation.evaluate", is_package=False)
    assert {"harness.reporting.tables", "harness.experiment.spec", "harness.data.images",
            "harness.evaluation.protocols"} <= names


def test_the_fact_scan_catches_each_kind_of_copy() -> None:
    copies = {
        "harness/a.py": "from typing import Literal\nScale = Literal[2, 3, 4]\n",
        "harness/b.py": "def f(parser):\n    parser.add_argument('--scale', choices=(4, 3, 2))\n",
        "harness/c.py": "SCALES = list(range(2, 5))\n",
        "mren/d.py": "COLUMNS = ['psnr_y', 'ssim_y']\n",
        "harness/e.py": "def y(r, g, b):\n    return 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255\n",
        "harness/f.py": "def trials(root):\n    return root / 'trials'\n",
        "harness/g.py": "LOCK = 'run.lock'\n",
        "harness/h.py": "CACHE_DIR = 'cache'\n",
        "harness/i.py": "def name(trial_id):\n    return f'visuals/{trial_id}.png'\n",
        SCALES_HOME: "SCALES = (2, 3, 4)\n",
        "harness/fine.py": "x = {'trials': 1}['trials'], (2, 3), (1, 2, 3, 4), 'psnr_y', 16.0\n",
    }
    assert misplaced_facts(copies) == [
        "harness/a.py: scales", "harness/b.py: scales", "harness/c.py: scales", "harness/e.py: BT.601",
        "harness/f.py: results layout", "harness/g.py: results layout", "harness/h.py: results layout",
        "harness/i.py: results layout", "mren/d.py: metric columns"]
