"""Releasable: ``python -m build`` makes an sdist and a wheel that work outside the checkout,
and a package of another distribution that takes one of deltagrad's import names is named.

The build test installs the wheel into a fresh virtual environment in a temporary folder
and runs the command line from there, as a user who ran ``pip install deltagrad`` would.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _env(**extra: str) -> dict:
    """The environment without anything that would find the checkout instead of the install."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.update(extra)
    return env


def _run(argv, cwd, timeout=600, **env):
    result = subprocess.run([str(a) for a in argv], cwd=cwd, env=_env(**env), capture_output=True,
                            text=True, timeout=timeout)
    assert result.returncode == 0, f"{argv}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def _wheel_problems(names):
    """What the wheel lacks or should not hold, from its list of files."""
    wanted = ["autograd/py.typed", "nn/py.typed", "viz/py.typed", "nn/datasets/digits.csv.gz",
              "nn/datasets/README.md", "deltagrad/cli.py", "autograd/value.py"]
    missing = [name for name in wanted if name not in names]
    tests = [name for name in names
             if re.search(r"(^|/)(tests?|docs|examples)/|(^|/)(test_[^/]*|conftest)\.py$", name)]
    return missing, tests


@pytest.mark.slow
def test_the_wheel_installs_and_runs_outside_the_checkout(tmp_path):
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "build", "--outdir", dist, ROOT], cwd=tmp_path)
    wheels, sdists = list(dist.glob("*.whl")), list(dist.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, list(dist.iterdir())
    with zipfile.ZipFile(wheels[0]) as wheel:
        names = wheel.namelist()
    assert _wheel_problems(names) == ([], [])

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", venv], cwd=tmp_path)
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    python = bin_dir / "python"
    _run([python, "-m", "pip", "install", "-q", wheels[0]], cwd=tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    where = _run([python, "-c", "import autograd, nn, viz; print(autograd.__file__, nn.__file__, "
                  "viz.__file__); print(len(nn.data.load_digits()[0]))"], cwd=work)
    paths, digits = where.split("\n")[:2]
    assert all(Path(p).resolve().is_relative_to(venv.resolve()) for p in paths.split()), paths
    assert digits == "1797"  # package data, read from the installed wheel
    out = _run([bin_dir / "deltagrad", "train", "--epochs", "3", "--samples", "30", "--quiet"], cwd=work)
    assert re.search(r"^final: hinge .* test accuracy", out, re.M)
    out = _run([bin_dir / "deltagrad", "graph", "-o", "x.svg"], cwd=work)
    svg = (work / "x.svg").read_text(encoding="utf-8")
    assert "x.svg" in out and svg.lstrip().startswith(("<?xml", "<svg")) and "</svg>" in svg


def test_the_wheel_check_sees_missing_markers_and_test_files():
    good = ["autograd/py.typed", "nn/py.typed", "viz/py.typed", "nn/datasets/digits.csv.gz",
            "nn/datasets/README.md", "deltagrad/cli.py", "autograd/value.py"]
    assert _wheel_problems(good) == ([], [])
    assert _wheel_problems(good[1:] + ["tests/test_x.py", "nn/conftest.py"]) == (
        ["autograd/py.typed"], ["tests/test_x.py", "nn/conftest.py"])


def _shadow(tmp_path: Path, name: str, code: str) -> Path:
    """A folder holding a package ``name`` of another distribution, to put first on sys.path."""
    (tmp_path / "other" / name).mkdir(parents=True)
    (tmp_path / "other" / name / "__init__.py").write_text(code, encoding="utf-8")
    return tmp_path / "other"


@pytest.mark.parametrize("command", ["import nn", "import viz", "import deltagrad.cli"])
def test_another_autograd_first_on_the_path_is_named_in_one_line(tmp_path, command):
    # HIPS autograd (pip install autograd) also installs a top-level package named autograd
    other = _shadow(tmp_path, "autograd", "def grad(fun, argnum=0):\n    return fun\n")
    result = subprocess.run([sys.executable, "-c", command], cwd=tmp_path, capture_output=True, text=True,
                            env=_env(PYTHONPATH=str(other)), timeout=60)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: the package 'autograd' at ")
    assert str(other / "autograd" / "__init__.py") in last
    assert "is not deltagrad's engine" in last and "virtual environment" in last


def test_another_nn_first_on_the_path_is_named_by_the_command_line(tmp_path):
    other = _shadow(tmp_path, "nn", "Module = object\n")
    result = subprocess.run([sys.executable, "-m", "deltagrad", "--version"], cwd=tmp_path,
                            capture_output=True, text=True, env=_env(PYTHONPATH=str(other)), timeout=60)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"ImportError: the package 'nn' at {other / 'nn' / '__init__.py'} is not "
                           "deltagrad's") and "virtual environment" in last
