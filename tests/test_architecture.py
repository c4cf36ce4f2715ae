"""The layering of DESIGN.md, read from the source with ``ast`` (nothing is imported or run).

deltagrad/ (the command line) sits on nn/ and viz/, which both sit on autograd/; imports point
down only, nn and viz never import each other, and no package's modules import in a circle.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Dict, Iterator, Set, Tuple

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("autograd", "nn", "viz", "deltagrad")
#: What each package may import from the project (itself always).
ALLOWED = {
    "autograd": set(),
    "nn": {"autograd"},
    "viz": {"autograd"},
    "deltagrad": {"autograd", "nn", "viz"},
}


def _modules() -> Iterator[Tuple[str, Path]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            yield ".".join(parts), path


def _imports(module: str, path: Path) -> Set[str]:
    """Absolute names of every module ``module`` imports, at any depth of its code (lazy ones too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: Set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _graph() -> Dict[str, Set[str]]:
    modules = dict(_modules())
    return {name: {m for m in _imports(name, path) if m in modules and m != name}
            for name, path in modules.items()}


def test_the_tree_has_the_packages_it_promises():
    for package in ("autograd", "nn", "viz"):
        assert (ROOT / package / "__init__.py").is_file()


@pytest.mark.parametrize("module,path", list(_modules()), ids=lambda x: str(x))
def test_imports_point_down_only(module, path):
    package = module.split(".")[0]
    for name in sorted(_imports(module, path)):
        top = name.split(".")[0]
        if top in PACKAGES and top != package:
            assert top in ALLOWED[package], f"{module} imports {name}: {package} may not import {top}"


def test_no_import_cycles_between_modules():
    """Module-level cycles make a package hard to read in order (a package's __init__ re-exporting
    its own modules is not a cycle: the edge from a submodule to its package is ignored)."""
    graph = _graph()
    for name, deps in graph.items():
        graph[name] = {d for d in deps if not name.startswith(d + ".")}
    state: Dict[str, int] = {}
    for start in sorted(graph):
        if state.get(start):
            continue
        stack = [(start, iter(sorted(graph[start])))]
        state[start] = 1
        path = [start]
        while stack:
            node, children = stack[-1]
            for child in children:
                if state.get(child) == 1:
                    cycle = path[path.index(child):] + [child]
                    pytest.fail("import cycle: " + " -> ".join(cycle))
                if not state.get(child):
                    state[child] = 1
                    path.append(child)
                    stack.append((child, iter(sorted(graph[child]))))
                    break
            else:
                stack.pop()
                path.pop()
                state[node] = 2


def test_the_checker_sees_lazy_and_relative_imports(tmp_path):
    """The rule is real: an import hidden in a function, or written relatively, is still seen."""
    module = tmp_path / "value.py"
    module.write_text("from . import ops\n\ndef show():\n    from viz import svg\n    return svg\n")
    found = _imports("autograd.value", module)
    assert {"viz", "viz.svg", "autograd", "autograd.ops"} <= found


# --- one place for argument checks ------------------------------------------------------------

#: ``bool`` excluded from the numbers by hand: the idiom autograd.validate exists to hold.
_BOOL_IDIOM = re.compile(r"is bool or not isinstance\(|isinstance\([^()]*,\s*bool\)")
#: Where it may stay, and why.
_BOOL_IDIOM_ALLOWED = {
    "autograd/validate.py": "the checks themselves",
    "autograd/value.py": "the engine's hot paths: Value() and the op methods' generated code",
    "nn/manual.py": "the independent oracle imports nothing from autograd",
}


def _bool_idiom_lines(text: str) -> list:
    return [n for n, line in enumerate(text.splitlines(), 1) if _BOOL_IDIOM.search(line)]


def test_numbers_are_checked_in_one_place():
    """Outside autograd.validate (and the listed hot paths), no module tests 'a number but
    not a bool' inline: it calls validate.is_real / integer / real, so one mistake raises
    one exception type with one wording everywhere."""
    found = []
    for _, path in _modules():
        where = path.relative_to(ROOT).as_posix()
        if where not in _BOOL_IDIOM_ALLOWED:
            found += [f"{where}:{n}" for n in _bool_idiom_lines(path.read_text(encoding="utf-8"))]
    assert not found, "check numbers with autograd.validate, not inline: " + ", ".join(found)


def test_the_bool_idiom_check_sees_both_spellings():
    source = ("if x.__class__ is bool or not isinstance(x, numbers.Real): pass\n"
              "ok = isinstance(y, int) and not isinstance(y, bool)\n"
              "fine = is_real(z)\n")
    assert _bool_idiom_lines(source) == [1, 2]
