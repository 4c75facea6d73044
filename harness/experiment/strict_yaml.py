"""Reading a YAML file the harness can trust: a regular file within size, depth and node limits, no duplicate or
unhashable keys, no Python tags. Every problem is one `UserError` line naming the file (and the line, for syntax).
"""

import re
import reprlib
import stat
from pathlib import Path
from typing import Any

import yaml

from harness.errors import UserError
from harness.inputs import os_reason

# A typo (or a hostile file) gets a message naming the limit, not an hour of silence or an exhausted machine.
MAX_SPEC_BYTES = 1024 * 1024
MAX_YAML_DEPTH = 32
MAX_YAML_NODES = 100_000  # counted with repetition, so that YAML aliases cannot multiply a small file


class _StrictLoader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses duplicate keys, which plain YAML silently resolves to the last one."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                raise yaml.constructor.ConstructorError(None, None, f"found unhashable key ({type(key).__name__})",
                                                        key_node.start_mark) from None
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {short(key)}",
                                                        key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def read_yaml(path: Path) -> Any:
    path = Path(path)
    try:
        status = path.stat()
    except FileNotFoundError:
        raise UserError(f"spec file {path} not found") from None
    except OSError as error:
        raise UserError(f"spec file {path} cannot be read: {os_reason(error)}") from None
    if stat.S_ISDIR(status.st_mode):
        raise UserError(f"spec file {path} is a folder, not a file")
    if not stat.S_ISREG(status.st_mode):  # a FIFO would block the read forever
        raise UserError(f"spec file {path} is not a regular file")
    if status.st_size > MAX_SPEC_BYTES:
        raise UserError(f"spec file {path} is {status.st_size:,} bytes, more than the limit of {MAX_SPEC_BYTES:,}")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise UserError(f"spec file {path} cannot be read: {os_reason(error)}") from None
    except UnicodeDecodeError as error:
        raise UserError(f"spec file {path} cannot be read ({error})") from None
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # a SafeLoader: no Python object tags
    except RecursionError:
        raise UserError(f"{path}: nested deeper than the limit of {MAX_YAML_DEPTH} levels") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        problem = getattr(error, "problem", None) or str(error)
        if "could not determine a constructor" in problem:
            problem = f"YAML tag {_quoted_tag(problem)} is not allowed (specs are plain YAML: no Python objects)"
        raise UserError(f"{where}: YAML error: {problem}") from None
    _check_size(data, path)
    return data


def _check_size(data: Any, path: Path) -> None:
    """Depth and node count within the limits, counting a node reached through several aliases each time."""
    budget = [MAX_YAML_NODES]

    def visit(node: Any, depth: int) -> None:
        budget[0] -= 1
        if budget[0] < 0:
            raise UserError(f"{path}: more than the limit of {MAX_YAML_NODES:,} values (YAML aliases count each "
                            "time they are used)")
        if depth > MAX_YAML_DEPTH:
            raise UserError(f"{path}: nested deeper than the limit of {MAX_YAML_DEPTH} levels")
        children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, child in children:
            if isinstance(node, dict) and not isinstance(key, (str, int, float, bool)) and key is not None:
                raise UserError(f"{path}: a key must be a plain value, not a {type(key).__name__}")
            visit(child, depth + 1)

    visit(data, 0)


def _quoted_tag(problem: str) -> str:
    """The tag quoted in PyYAML's "could not determine a constructor for the tag '...'" message, as written."""
    quoted = re.search(r"'([^']*)'", problem)
    return (quoted.group(1) if quoted else "?").replace("tag:yaml.org,2002:", "!!")


_SHORT = reprlib.Repr()  # keyword arguments need Python 3.12
_SHORT.maxlevel, _SHORT.maxlist, _SHORT.maxdict, _SHORT.maxstring, _SHORT.maxother = 2, 4, 4, 50, 50


def short(value: Any, limit: int = 60) -> str:
    text = _SHORT.repr(value)  # bounded: the full repr of a large value would be slow and unreadable
    return text if len(text) <= limit else text[:limit - 3] + "..."
