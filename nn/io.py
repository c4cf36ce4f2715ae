"""Saving and loading MLPs as JSON: the architecture and every parameter, never pickle.

A model file looks like::

    {"format": "deltagrad-mlp", "version": 1,
     "architecture": {"nin": 2, "nouts": [16, 16, 1], "activation": "relu",
                      "output_activation": "linear", "init": "uniform"},
     "parameters": {"layers.0.neurons.0.w.0": 0.123..., ...}}

Floats are written with ``repr``, so they load back bit for bit.  Loading checks the
whole file before touching a model: a file that is empty, truncated, not JSON, of
another format or version, holding NaN or non-numbers, or built for another
architecture raises a ``ValueError`` that names the file and the problem.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import tempfile
from typing import Any, Dict, List, Tuple, Union

from .module import ACTIVATIONS, INITS, MLP

__all__ = ["save", "load", "load_into", "FORMAT", "VERSION"]

FORMAT = "deltagrad-mlp"
VERSION = 1
PathType = Union[str, "os.PathLike[str]"]


def save(model: MLP, path: PathType) -> None:
    """Write ``model`` to ``path`` atomically: a temporary file in the same directory,
    then ``os.replace``, so a crash never leaves a half-written model file."""
    if not isinstance(model, MLP):
        raise TypeError(f"save needs an nn.MLP, got {type(model).__name__}")
    params = model.state_dict()
    for name, value in params.items():
        if not math.isfinite(value):
            raise ValueError(f"cannot save to {os.fspath(path)}: parameter {name!r} is {value!r} "
                             "(the model has diverged; a file with it could not be loaded)")
    document = {"format": FORMAT, "version": VERSION, "architecture": model.architecture,
                "parameters": params}
    text = json.dumps(document, indent=1, allow_nan=False) + "\n"
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".deltagrad-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def load(path: PathType) -> MLP:
    """A new MLP with the architecture and parameters stored in ``path``."""
    architecture, params = _read(path)
    model = MLP(**architecture, seed=0)
    _load_params(model, params, path)
    return model


def load_into(model: MLP, path: PathType) -> None:
    """Load the parameters in ``path`` into an existing ``model`` of the same architecture.

    The layer sizes and activations must match (the ``init`` scheme may differ: it only
    says how the saved weights started).  On any error the model is unchanged.
    """
    if not isinstance(model, MLP):
        raise TypeError(f"load_into needs an nn.MLP, got {type(model).__name__}")
    architecture, params = _read(path)
    ours = model.architecture
    diffs = [f"{key} {architecture[key]!r} (the model has {ours[key]!r})"
             for key in ("nin", "nouts", "activation", "output_activation")
             if architecture[key] != ours[key]]
    if diffs:
        raise ValueError(f"{os.fspath(path)}: architecture does not match the model: "
                         + ", ".join(diffs))
    _load_params(model, params, path)


def _load_params(model: MLP, params: Dict[str, Any], path: PathType) -> None:
    try:
        model.load_state_dict(params, strict=True)
    except ValueError as e:
        raise ValueError(f"{os.fspath(path)}: {e}") from None


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number a model file may hold")


def _no_duplicates(pairs: List[Tuple[str, Any]]) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"key {key!r} appears twice")
        out[key] = value
    return out


def _read(path: PathType) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """Parse and check a model file; returns (architecture, parameters) or raises ValueError."""
    name = os.fspath(path)
    with open(name, "rb") as f:  # FileNotFoundError names the file already
        raw = f.read()
    if not raw.strip():
        raise ValueError(f"{name}: the file is empty, not a deltagrad model")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{name}: not a deltagrad model (not UTF-8 text)") from None
    try:
        document = json.loads(text, parse_constant=_reject_constant,
                              object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as e:
        # JSON that stops early: the parser ran into the end, or a string never closed
        at_end = e.pos >= len(text.rstrip()) or e.msg.startswith("Unterminated string")
        hint = " (the file looks truncated)" if at_end else ""
        raise ValueError(f"{name}: not valid JSON{hint}: {e}") from None
    except ValueError as e:
        raise ValueError(f"{name}: {e}") from None
    except RecursionError:
        raise ValueError(f"{name}: not a deltagrad model (JSON nested too deeply)") from None
    if not isinstance(document, dict):
        raise ValueError(f"{name}: not a deltagrad model (expected a JSON object, "
                         f"found {type(document).__name__})")
    if document.get("format") != FORMAT:
        raise ValueError(f"{name}: not a deltagrad model (format is {document.get('format')!r}, "
                         f"expected {FORMAT!r})")
    version = document.get("version")
    if version != VERSION or version.__class__ is not int:
        newer = (" (written by a newer deltagrad?)"
                 if isinstance(version, int) and not isinstance(version, bool) and version > VERSION
                 else "")
        raise ValueError(f"{name}: unsupported model file version {version!r}{newer}; "
                         f"this deltagrad reads version {VERSION}")
    for key in ("architecture", "parameters"):
        if not isinstance(document.get(key), dict):
            raise ValueError(f"{name}: the file has no {key!r} object")
    architecture = _check_architecture(document["architecture"], name)
    params = document["parameters"]
    for key, value in params.items():
        if value.__class__ is bool or not isinstance(value, numbers.Real):
            raise ValueError(f"{name}: parameter {key!r} is not a number: {value!r}")
    return architecture, params


def _check_architecture(arch: Dict[str, Any], name: str) -> Dict[str, Any]:
    keys = ("nin", "nouts", "activation", "output_activation", "init")
    missing = [k for k in keys if k not in arch]
    unknown = [k for k in arch if k not in keys]
    if missing or unknown:
        raise ValueError(f"{name}: architecture " + "; ".join(
            ([f"is missing {', '.join(missing)}"] if missing else [])
            + ([f"has unknown keys {', '.join(map(repr, unknown))}"] if unknown else [])))

    def size(n: Any) -> bool:
        return n.__class__ is int and n >= 1

    if not size(arch["nin"]):
        raise ValueError(f"{name}: architecture nin must be a positive integer, got {arch['nin']!r}")
    nouts = arch["nouts"]
    if not isinstance(nouts, list) or not nouts or not all(size(n) for n in nouts):
        raise ValueError(f"{name}: architecture nouts must be a non-empty list of positive "
                         f"integers, got {nouts!r}")
    for key, valid in (("activation", ACTIVATIONS), ("output_activation", ACTIVATIONS),
                       ("init", INITS)):
        if arch[key] not in valid:
            raise ValueError(f"{name}: architecture {key} {arch[key]!r} is not one of "
                             f"{', '.join(valid)}")
    return {k: arch[k] for k in keys}
