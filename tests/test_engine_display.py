"""Notebook display through autograd.display: renderers asked in turn, found through the
``deltagrad.display`` entry point without autograd importing viz, and no error without one."""

from __future__ import annotations

import ast
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from autograd import Value, display

AUTOGRAD = Path(__file__).resolve().parent.parent / "autograd"


@pytest.fixture
def registry(monkeypatch):
    """An empty registry whose entry points have already been looked at."""
    monkeypatch.setattr(display, "_renderers", [])
    monkeypatch.setattr(display, "_discovered", True)
    return display._renderers


def test_a_registered_renderer_draws_values_and_others_fall_through(registry):
    seen = []

    def values_only(obj):
        seen.append(obj)
        return "<svg>value</svg>" if isinstance(obj, Value) else None

    def anything(obj):
        return "<svg>anything</svg>"

    display.register(anything)
    assert display.register(values_only) is values_only  # usable as a decorator
    v = Value(2.0) * 3.0
    assert v._repr_svg_() == "<svg>value</svg>"  # the newest registration is asked first
    assert display.svg(object()) == "<svg>anything</svg>"  # declined by the first, drawn by the next
    assert seen[0] is v and len(seen) == 2


def test_registering_twice_keeps_one_entry_and_non_callables_are_refused(registry):
    def r(obj):
        return None

    display.register(r)
    display.register(r)
    assert registry == [r]
    with pytest.raises(TypeError, match="callable.*str"):
        display.register("viz")


def test_without_any_renderer_the_svg_repr_is_none_not_an_error(registry):
    assert Value(1.5)._repr_svg_() is None


def test_an_object_of_another_library_can_use_the_same_hook(registry):
    class Model:
        def _repr_svg_(self):
            return display.svg(self)

    assert Model()._repr_svg_() is None
    display.register(lambda obj: "<svg>model</svg>" if isinstance(obj, Model) else None)
    assert Model()._repr_svg_() == "<svg>model</svg>"


class _BrokenPoint:
    name, value = "broken", "nowhere:draw"

    def load(self):
        raise ImportError("No module named 'nowhere'")


def test_a_renderer_that_fails_to_load_is_skipped_with_a_warning(monkeypatch):
    monkeypatch.setattr(display, "_renderers", [])
    monkeypatch.setattr(display, "_discovered", False)
    monkeypatch.setattr(display, "_entry_points", lambda: [_BrokenPoint()])
    with pytest.warns(RuntimeWarning, match="'broken'.*nowhere"):
        assert Value(1.0)._repr_svg_() is None
    assert display._discovered  # looked up once, not on every repr


def test_viz_is_declared_as_a_renderer_in_the_entry_point_group():
    import viz

    points = [p for p in display._entry_points() if p.name == "viz"]
    assert len(points) == 1 and points[0].group == display.GROUP == "deltagrad.display"
    assert points[0].load() is viz.display_svg
    assert metadata.distribution("deltagrad").entry_points  # installed with its entry points


def test_a_fresh_interpreter_draws_a_value_without_importing_viz_by_name():
    code = (
        "import sys\n"
        "from autograd import Value\n"
        "v = (Value(2.0, 'a') * 3.0).tanh()\n"
        "assert 'viz' not in sys.modules, 'autograd imported viz'\n"
        "picture = v._repr_svg_()\n"
        "assert 'viz' in sys.modules, 'the entry point did not load viz'\n"
        "print(picture)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "<svg" in done.stdout and "tanh" in done.stdout and ">a<" in done.stdout


def _imported_modules(tree: ast.AST) -> list:
    names = []
    for node in ast.walk(tree):  # every import, also those inside functions
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def test_autograd_imports_nothing_above_it():
    files = sorted(AUTOGRAD.glob("*.py"))
    assert len(files) >= 9
    for path in files:
        for name in _imported_modules(ast.parse(path.read_text(encoding="utf-8"))):
            assert name.split(".")[0] not in ("viz", "nn", "deltagrad"), (path.name, name)
