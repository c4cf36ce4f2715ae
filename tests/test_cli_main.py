"""The ``deltagrad`` command itself: --version from the one version string, the subcommands
--help lists, and a missing subcommand."""

from __future__ import annotations

import configparser
import re
import subprocess
import sys
from pathlib import Path

import pytest

import autograd
from deltagrad.cli import main

SETUP_CFG = Path(__file__).resolve().parent.parent / "setup.cfg"


def test_version_prints_autograds_version(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out == f"deltagrad {autograd.__version__}\n"


def test_the_version_lives_in_autograd_only():
    cfg = configparser.ConfigParser()
    cfg.read(SETUP_CFG, encoding="utf-8")
    assert cfg["metadata"]["version"] == "attr: autograd.__version__"
    assert re.fullmatch(r"\d+\.\d+\.\d+", autograd.__version__)


def test_python_dash_m_deltagrad_version():
    result = subprocess.run([sys.executable, "-m", "deltagrad", "--version"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"deltagrad {autograd.__version__}\n"


def test_help_lists_every_subcommand_in_order(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    listed = re.findall(r"^    (\w+)\s", out, re.MULTILINE)
    assert listed == ["train", "predict", "graph", "explain", "health"]
    assert "--version" in out


def test_no_subcommand_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as stop:
        main([])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "required: COMMAND" in err and "(see deltagrad --help)" in err
