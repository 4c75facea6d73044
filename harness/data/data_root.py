"""The data root (`--data-root`): what a run needs in it, checked in one place, with a hint when it is one or two
levels off.

It holds the evaluation sets by name (`<root>/Set5`, ...) and DIV2K (`<root>/DIV2K/DIV2K_train_HR`, or the root is
the `DIV2K` folder itself: harness/data/div2k.py). A root that is itself a benchmark folder (it holds `HR/`, `GT/` or
images) is refused outright: the smoke profile would otherwise not find Set5 in it and score on the bundled images
without a word.
"""

from pathlib import Path
from typing import Callable

from harness.data.div2k import DIV2K, HR_FOLDER, check_div2k, found_nearby, has_div2k
from harness.data.images import IMAGE_SUFFIXES
from harness.errors import UserError


def benchmark_folder_reason(root: Path) -> str | None:
    """Why `root` looks like one benchmark set rather than a folder of sets (None when it does not)."""
    for name in ("HR", "GT", "LR_bicubic", "LQ"):
        if (root / name).is_dir():
            return f"it holds {name}/"
    try:
        if any(entry.suffix.lower() in IMAGE_SUFFIXES and entry.is_file() for entry in root.iterdir()):
            return "it holds images"
    except OSError:
        return None
    return None


def data_root_problems(root: Path, eval_sets: list[str], div2k_needs: list[tuple[int, int]]) -> list[str]:
    """One line per problem of the existing folder `root` for a run that scores `eval_sets` and trains on DIV2K at
    each (scale, hr_patch) of `div2k_needs`; DIV2K's layout is checked from its files' headers (seconds)."""
    needs: dict[str, Callable[[Path], bool]] = {name: (lambda folder, name=name: (folder / name).is_dir())
                                                for name in eval_sets}
    if div2k_needs:
        needs[DIV2K] = has_div2k
    missing = [name for name, has in needs.items() if not has(root)]
    if missing:
        everything = found_nearby(root, lambda folder: all(has(folder) for has in needs.values()))
        near = everything or found_nearby(root, lambda folder: all(needs[name](folder) for name in missing))
        if near is None and benchmark_folder_reason(root) is not None:
            return [_benchmark_folder(root, list(needs))]
        hint = f"; {' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} in {near}: give --data-root {near}" \
            if near is not None else ""
        what = [f"DIV2K not found: {root / DIV2K / HR_FOLDER} is not a folder (nor {root / HR_FOLDER})"
                if name == DIV2K else f"evaluation set {name} not found: {root / name} is not a folder"
                for name in missing]
        # DIV2K first: the training set is what a wrong root hides behind the evaluation sets
        what.sort(key=lambda line: not line.startswith("DIV2K"))
        return ["; ".join(what) + hint]
    if benchmark_folder_reason(root) is not None:
        return [_benchmark_folder(root, list(needs))]
    problems = []
    for scale, hr_patch in div2k_needs:
        try:
            check_div2k(root, scale, hr_patch=hr_patch)
        except UserError as error:
            problems.append(str(error))
    return problems


def _benchmark_folder(root: Path, needed: list[str]) -> str:
    return (f"--data-root {root} is itself a benchmark folder ({benchmark_folder_reason(root)}); give the folder that "
            f"holds the sets by name ({', '.join(needed) or 'Set5, DIV2K'}), such as {root.absolute().parent}")
