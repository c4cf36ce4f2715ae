"""The command line under hostile conditions: sizes beyond the limits, training that
diverges, a closed stderr, a closed stdout pipe, Ctrl-C at start-up and mid-run, a broken
install without graphviz, and predict reading the class a model was trained for."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import nn
from deltagrad.cli import EXIT_CLOSED_PIPE, EXIT_INTERRUPTED, main

ROOT = Path(__file__).resolve().parents[1]
POSIX = pytest.mark.skipif(os.name != "posix", reason="shell redirections and signals")


def run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def python(code: str, **kwargs) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter, from the repository root."""
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, **kwargs)


# --- sizes beyond the limits: one line, status 2, no Python hint -------------------------

@pytest.mark.parametrize("argv, text", [
    (["train", "--layers", "100000000"], "MLP 2-100000000-1 would have 400,000,001 parameters"),
    (["train", "--samples", "1000000000000"], "--samples 1000000000000: more than the limit of 10,000,000"),
    (["train", "--dataset", "spirals", "--classes", "1000000000000"], "1000000000000"),
    (["health", "--samples", "100000000000"], "--samples 100000000000: more than the limit"),
    (["health", "--layers", "5000,5000"], "would have 25,"),
    (["explain", "--layers", "100000000"], "would have 400,000,001 parameters"),
])
def test_sizes_beyond_the_limits_are_one_line_before_any_work(capsys, argv, text):
    start = time.perf_counter()
    status, out, err = run(capsys, *argv)
    assert time.perf_counter() - start < 5  # refused up front, nothing built
    assert status == 2 and out == ""
    assert text in err and err.count("\n") == 1
    assert "max_parameters" not in err and "max_samples" not in err and "Traceback" not in err


def test_predict_refuses_a_file_claiming_a_billion_weights_in_the_commands_words(capsys, tmp_path):
    path = tmp_path / "bomb.json"
    path.write_text(json.dumps({"format": "deltagrad-mlp", "version": 1, "architecture": {
        "nin": 1000000000, "nouts": [1], "activation": "relu", "output_activation": "linear",
        "init": "uniform"}, "parameters": {}}))
    status, out, err = run(capsys, "predict", "--model", str(path), "1,2")
    assert status == 2 and out == ""
    assert "implies 1,000,000,001 parameters, more than the limit of 10,000,000" in err
    assert "max_parameters" not in err and err.count("\n") == 1
    status, _, err = run(capsys, "graph", "--model", str(path), "--x", "1,2", "-o", str(tmp_path / "g.svg"))
    assert status == 2 and "max_parameters" not in err and "10,000,000" in err


# --- training that diverges --------------------------------------------------------------

def test_xor_with_mse_diverges_in_one_line_that_suggests_a_lower_lr(capsys):
    status, out, err = run(capsys, "train", "--dataset", "xor", "--loss", "mse", "--quiet")
    assert status == 2
    assert "final:" not in out  # no claim that training finished
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "training diverged in epoch" in err and "the loss became inf" in err
    assert "learning rate 1 is too high for mse" in err and "try a smaller --lr, e.g. --lr 0.1" in err
    status, out, _ = run(capsys, "train", "--dataset", "xor", "--loss", "mse", "--quiet", "--lr", "0.1")
    assert status == 0 and "final: mse" in out  # the suggestion works


def test_a_noise_so_large_the_data_is_infinite_is_named_as_the_data(capsys):
    status, _, err = run(capsys, "train", "--noise", "1e308", "--epochs", "2", "--quiet")
    assert status == 2 and err.count("\n") == 1
    assert "--noise" in err and "--lr" not in err


# --- output that cannot be written never stops training ----------------------------------

@POSIX
def test_training_with_stderr_closed_still_trains_and_exits_0(tmp_path):
    model = tmp_path / "m.json"
    result = subprocess.run(f"'{sys.executable}' -m deltagrad train --epochs 3 --save '{model}' 2>&-",
                            shell=True, cwd=ROOT, capture_output=False, stdout=subprocess.PIPE,
                            text=True, timeout=120)
    assert result.returncode == 0
    assert "final: hinge" in result.stdout and model.is_file()


@POSIX
def test_a_closed_stderr_with_an_error_still_exits_2():
    result = subprocess.run(f"'{sys.executable}' -m deltagrad predict --model missing.json 1,2 2>&-",
                            shell=True, cwd=ROOT, stdout=subprocess.PIPE, text=True, timeout=120)
    assert result.returncode == 2 and result.stdout == ""


@POSIX
def test_a_closed_stdout_pipe_exits_141_quietly():
    proc = subprocess.Popen([sys.executable, "-m", "deltagrad", "train", "--epochs", "3"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader goes away before anything is read (as `| head -c0`)
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == EXIT_CLOSED_PIPE == 141
    assert "Traceback" not in err and "Exception ignored" not in err and "BrokenPipe" not in err


def test_the_exit_statuses_are_documented():
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    section = text[text.index("## Exit statuses"):]
    for status in ("0", "1", "2", "130", "141"):
        assert f"| {status} |" in section


# --- Ctrl-C at any moment ------------------------------------------------------------------

INTERRUPT_ON_IMPORT = """
import sys
class Interrupt:
    def find_spec(self, name, path=None, target=None):
        if name == {module!r}:
            raise KeyboardInterrupt
sys.meta_path.insert(0, Interrupt())
"""


@pytest.mark.parametrize("module", ["argparse", "autograd", "nn.train", "viz.dot", "deltagrad.train"])
@pytest.mark.parametrize("command", [
    [str(Path(sys.executable).with_name("deltagrad"))],  # the console script
    [sys.executable, "-m", "deltagrad"],
])
def test_ctrl_c_during_start_up_imports_is_one_line_and_130(tmp_path, module, command):
    if not Path(command[0]).exists():
        pytest.skip("no deltagrad console script next to this Python")
    (tmp_path / "sitecustomize.py").write_text(INTERRUPT_ON_IMPORT.format(module=module))
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}  # Ctrl-C as that module is imported
    result = subprocess.run(command + ["train"], cwd=ROOT, capture_output=True, text=True,
                            timeout=120, env=env)
    assert result.returncode == EXIT_INTERRUPTED == 130, result.stderr
    assert result.stderr == "deltagrad: interrupted\n"
    assert result.stdout == ""


def test_a_program_importing_deltagrad_gets_its_keyboardinterrupt():
    code = INTERRUPT_ON_IMPORT.format(module="nn.train") + "import deltagrad\n"
    result = python(code)
    assert result.returncode != 130 and "KeyboardInterrupt" in result.stderr  # not the command's exit


@POSIX
def test_ctrl_c_while_training_is_one_line_and_130():
    proc = subprocess.Popen([sys.executable, "-u", "-m", "deltagrad", "train", "--epochs", "100000",
                             "--quiet"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True,  # Ctrl-C's default even under a runner started with `&`
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    for line in proc.stdout:
        if line.startswith("train:"):
            break
    time.sleep(0.2)  # inside fit
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130
    assert proc.stderr.read() == "deltagrad train: interrupted\n"


# --- a broken install without the graphviz package ---------------------------------------

def test_graph_without_the_graphviz_package_says_to_reinstall(tmp_path):
    out = tmp_path / "g.svg"
    result = python("import sys; sys.modules['graphviz'] = None\n"  # hides the module
                    f"from deltagrad.cli import main; sys.exit(main(['graph', '-o', {str(out)!r}]))")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "graphviz Python package is missing" in result.stderr and "reinstall" in result.stderr
    assert not out.exists()


# --- predict reads the class the model was trained for -----------------------------------

def test_predict_on_a_bce_with_logits_model_prints_classes_1_and_0(capsys, tmp_path):
    path = tmp_path / "bce.json"
    status, _, _ = run(capsys, "train", "--loss", "bce_with_logits", "--epochs", "30", "--quiet",
                       "--save", str(path))
    assert status == 0
    assert json.loads(path.read_text())["loss"] == "bce_with_logits"
    model = nn.load(path)
    points = ["1.5,-0.3", "-0.8,0.5"]
    status, out, _ = run(capsys, "predict", "--model", str(path), *points)
    assert status == 0
    for line, point in zip(out.splitlines(), points):
        score = model([float(v) for v in point.split(",")]).data  # the oracle: the score's sign
        assert line.endswith(f"class {1 if score > 0 else 0}")
    assert "+1" not in out and "-1" not in out.replace("-0.", "")


def test_predict_on_a_file_without_a_loss_keeps_the_sign_classes(capsys, tmp_path):
    path = tmp_path / "old.json"
    nn.MLP(2, [1], seed=0).save(path)  # as files written before the loss was stored
    assert "loss" not in json.loads(path.read_text())
    status, out, _ = run(capsys, "predict", "--model", str(path), "1,2")
    assert status == 0 and (out.rstrip().endswith("class +1") or out.rstrip().endswith("class -1"))
