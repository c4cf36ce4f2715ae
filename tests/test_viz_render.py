"""Finding a renderer (system dot first, then the bundled graphviz-pure, found through package
metadata) and writing SVG/PNG files; the errors when none exists or rendering fails."""

from __future__ import annotations

import importlib
import os
import stat
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import viz
from autograd import Value

# viz.render is the function; the module of the same name is reached through importlib.
render_module = importlib.import_module("viz.render")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def small_graph() -> Value:
    a, b = Value(2.0, "a"), Value(-3.0, "b")
    c = (a * b).tanh()
    c.backward()
    return c


@pytest.fixture
def no_system_dot(monkeypatch, tmp_path):
    """PATH holds only an empty directory: no `dot`, no `graphviz-pure` there."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


def fake_dot(directory: Path) -> Path:
    """A `dot` that ignores its input and prints a recognisable SVG."""
    directory.mkdir(exist_ok=True)
    exe = directory / "dot"
    exe.write_text("#!/bin/sh\ncat > /dev/null\n"
                   "echo '<svg xmlns=\"http://www.w3.org/2000/svg\"><text>system dot</text></svg>'\n")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return exe


def test_bundled_renderer_is_found_through_package_metadata(no_system_dot):
    path = render_module.bundled_renderer()
    assert path is not None and os.path.isabs(path)
    assert Path(path).name in ("graphviz-pure", "graphviz-pure.exe")
    assert render_module.find_renderer() == path


def test_render_through_the_bundled_renderer_without_system_dot(no_system_dot):
    text = viz.svg(small_graph())
    root = ET.fromstring(text)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert "graphviz-pure" in text  # its generator comment: no system dot was used


@pytest.mark.skipif(os.name == "nt", reason="the fake dot is a shell script")
def test_a_system_dot_on_path_is_preferred(monkeypatch, tmp_path):
    exe = fake_dot(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{exe.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    assert render_module.find_renderer() == str(exe)
    assert "system dot" in viz.svg(small_graph())


def test_missing_renderer_error_says_how_to_install_one(monkeypatch, no_system_dot):
    monkeypatch.setattr(render_module, "bundled_renderer", lambda: None)
    with pytest.raises(viz.RendererNotFoundError) as info:
        viz.svg(small_graph())
    message = str(info.value)
    assert "pip install graphviz-pure" in message and "dot" in message and "PATH" in message
    assert isinstance(info.value, OSError)
    viz.to_dot(small_graph())  # building the graph needs no renderer


def test_missing_distribution_means_no_bundled_renderer(monkeypatch):
    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(render_module.importlib.metadata, "distribution", missing)
    assert render_module.bundled_renderer() is None


def test_png_file_has_the_png_signature(tmp_path):
    path = viz.render(small_graph(), tmp_path / "g.png")
    assert path == str(tmp_path / "g.png")
    assert (tmp_path / "g.png").read_bytes()[:8] == PNG_SIGNATURE


def test_svg_file_and_format_choice(tmp_path):
    g = small_graph()
    svg_path = viz.render(g, tmp_path / "g.svg", rankdir="TB")
    assert ET.parse(svg_path).getroot().tag.endswith("svg")
    no_suffix = viz.render(g, tmp_path / "graph")
    assert Path(no_suffix).read_bytes().startswith(b"<?xml")
    forced = viz.render(g, tmp_path / "picture.img", format="png")
    assert Path(forced).read_bytes()[:8] == PNG_SIGNATURE
    with pytest.raises(ValueError, match="can't tell the format"):
        viz.render(g, tmp_path / "g.pdf")
    with pytest.raises(ValueError, match="format must be one of svg, png"):
        viz.render(g, tmp_path / "g.svg", format="gif")


def test_a_failing_render_says_what_the_renderer_printed():
    with pytest.raises(viz.RenderError, match="failed with exit status .*syntax error"):
        render_module.run("digraph { a -> }", "svg")


def test_drawing_displays_in_a_notebook_through_the_same_renderer(no_system_dot):
    drawing = viz.to_dot(small_graph())
    bundle = drawing._repr_mimebundle_()
    assert list(bundle) == ["image/svg+xml"]
    assert bundle["image/svg+xml"] == viz.svg(small_graph())
    assert drawing.pipe(format="png")[:8] == PNG_SIGNATURE


def test_a_value_shows_itself_as_svg_in_a_notebook(no_system_dot):
    g = small_graph()
    assert g._repr_svg_() == viz.svg(g)


def test_autograd_imports_viz_only_when_a_value_is_displayed():
    code = ("import sys, autograd; v = autograd.Value(1.0) * 2; print('viz' in sys.modules); "
            "v._repr_svg_(); print('viz' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True"]


def sleeping_dot(directory: Path) -> Path:
    """A `dot` that hangs: a shell script whose child sleeps (so stopping only the script
    would leave the sleeper holding the pipes)."""
    directory.mkdir(exist_ok=True)
    exe = directory / "dot"
    exe.write_text("#!/bin/sh\nsleep 30\necho never\n")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return exe


@pytest.mark.skipif(os.name == "nt", reason="the fake dot is a shell script")
def test_a_hung_renderer_is_stopped_after_the_timeout(monkeypatch, tmp_path):
    import time
    exe = sleeping_dot(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{exe.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    start = time.perf_counter()
    with pytest.raises(render_module.RenderTimeoutError) as info:
        render_module.run("digraph {}", timeout=0.5)
    assert time.perf_counter() - start < 10  # not the sleeper's 30 s: its process group was killed
    message = str(info.value)
    assert "0.5 s" in message and "DELTAGRAD_RENDER_TIMEOUT" in message
    assert isinstance(info.value, viz.RenderError)
    # the environment variable sets it for every drawing, viz.svg included
    monkeypatch.setenv("DELTAGRAD_RENDER_TIMEOUT", "0.3")
    with pytest.raises(render_module.RenderTimeoutError, match="within 0.3 s"):
        viz.svg(small_graph())


def test_render_timeout_default_env_and_bad_values(monkeypatch):
    monkeypatch.delenv("DELTAGRAD_RENDER_TIMEOUT", raising=False)
    assert render_module.render_timeout() == render_module.DEFAULT_TIMEOUT == 60.0
    assert render_module.render_timeout(5) == 5.0
    monkeypatch.setenv("DELTAGRAD_RENDER_TIMEOUT", "120")
    assert render_module.render_timeout() == 120.0
    monkeypatch.setenv("DELTAGRAD_RENDER_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="DELTAGRAD_RENDER_TIMEOUT.*'soon'"):
        render_module.render_timeout()
    monkeypatch.setenv("DELTAGRAD_RENDER_TIMEOUT", "-3")
    with pytest.raises(ValueError, match="DELTAGRAD_RENDER_TIMEOUT must be > 0, got -3.0"):
        render_module.render_timeout()
    for bad in (0, -1, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="timeout must be"):
            render_module.render_timeout(bad)
    for bad in (True, "5"):
        with pytest.raises(TypeError, match="timeout must be a real number"):
            render_module.render_timeout(bad)
