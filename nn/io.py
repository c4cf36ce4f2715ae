"""Saving and loading MLPs as JSON: the architecture and every parameter, never pickle.

A model file looks like::

    {"format": "deltagrad-mlp", "version": 1,
     "architecture": {"nin": 2, "nouts": [16, 16, 1], "activation": "relu",
                      "output_activation": "linear", "init": "uniform"},
     "parameters": {"layers.0.neurons.0.w.0": 0.123..., ...},
     "loss": "hinge"}

``"loss"`` (optional, a name from ``nn.LOSSES``) says what the model was trained for, so
that its output can be read as the right class (``bce_with_logits``: 1/0, not +1/-1);
``save(..., loss=...)`` writes it and ``load_with_loss`` reads it back.  Files without it
(older ones) load as before, and older deltagrads ignore it.

Floats are written with ``repr``, so they load back bit for bit.  Loading checks the
whole file before touching a model: a file that is empty, truncated, not JSON, of
another format or version, holding NaN or non-numbers, or built for another
architecture raises a ``ValueError`` that names the file and the problem.  Nothing is
built before the parameter count the architecture implies is checked against the
parameters present and against ``max_parameters`` (default ``nn.module.MAX_PARAMETERS``),
and no more than ``BYTES_PER_PARAMETER`` bytes per allowed parameter (plus 1 MiB) are
read, so neither a tiny file claiming a billion weights nor an endless stream
(``/dev/zero``) can exhaust memory.

Saving writes a temporary file next to the target and renames it over the target, as
editors do: an existing file keeps its permission bits, a new one gets the umask's
default (``0666 & ~umask``), and saving through a symbolic link writes the file the link
points to, leaving the link in place.
"""

from __future__ import annotations

import errno
import json
import math
import os
import secrets
import stat
from itertools import islice
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

from autograd.validate import is_integer, is_real

from .losses import LOSSES
from .losses import resolve as _resolve_loss
from .module import ACTIVATIONS, INITS, MLP, count_parameters, parameter_limit

__all__ = ["save", "load", "load_with_loss", "load_into", "FORMAT", "VERSION", "BYTES_PER_PARAMETER"]

FORMAT = "deltagrad-mlp"
VERSION = 1
#: How many bytes of file ``load`` accepts per allowed parameter (a saved parameter
#: takes 30 to 60: its name, its ``repr`` and the JSON punctuation).
BYTES_PER_PARAMETER = 100
_CHUNK = 1 << 20
PathType = Union[str, "os.PathLike[str]"]


def save(model: MLP, path: PathType, loss: Union[str, Callable[..., Any], None] = None) -> None:
    """Write ``model`` to ``path`` atomically: a temporary file in the same directory,
    then ``os.replace``, so a crash never leaves a half-written model file.

    ``loss`` (a name from ``nn.LOSSES`` or one of those functions) is stored with it: the
    loss it was trained with, which says how its output reads as a class.
    """
    if not isinstance(model, MLP):
        raise TypeError(f"save needs an nn.MLP, got {type(model).__name__}")
    loss_name = None if loss is None else _resolve_loss(loss, "save")[0]
    if loss_name is not None and loss_name not in LOSSES:
        raise ValueError(f"save: loss must be one of {', '.join(LOSSES)} (the name is stored in "
                         f"the file), got the function {loss_name!r}")
    params = model.state_dict()
    for name, value in params.items():
        if not math.isfinite(value):
            raise ValueError(f"cannot save to {os.fspath(path)}: parameter {name!r} is {value!r} "
                             "(the model has diverged; a file with it could not be loaded)")
    document = {"format": FORMAT, "version": VERSION, "architecture": model.architecture,
                "parameters": params}
    if loss_name is not None:
        document["loss"] = loss_name
    text = json.dumps(document, indent=1, allow_nan=False) + "\n"
    given = os.fspath(path)
    target = os.path.realpath(given)  # through a symlink: write its target, keep the link
    try:
        st_mode: Optional[int] = os.stat(target).st_mode
    except FileNotFoundError:
        st_mode = None  # a new file: the umask's default, applied when it is created
    if st_mode is not None and not stat.S_ISREG(st_mode):
        if stat.S_ISDIR(st_mode):
            raise IsADirectoryError(errno.EISDIR, "Is a directory (give a file name)", given)
        raise ValueError(f"cannot save to {given}: it is not a regular file (a device, pipe or "
                         "socket would be replaced by the model file)")
    try:
        fd, tmp = _create_temporary(os.path.dirname(target))
    except OSError as e:
        raise _naming(e, given) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        if st_mode is not None:
            os.chmod(tmp, stat.S_IMODE(st_mode))
        os.replace(tmp, target)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(e, OSError):
            raise _naming(e, given) from None
        raise


def _create_temporary(directory: str) -> Tuple[int, str]:
    """A new, empty, uniquely named file in ``directory``, created with mode 0666 so the
    umask (and the folder's default ACL) apply, as to any new file."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = os.path.join(directory, f".deltagrad-{secrets.token_hex(8)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:  # 64 random bits: practically never
            continue


def _naming(error: OSError, path: str) -> OSError:
    """``error`` naming the path the user gave instead of our temporary file."""
    if error.filename is None:
        return error
    return type(error)(error.errno, error.strerror, path)


def load(path: PathType, *, max_parameters: Optional[int] = None) -> MLP:
    """A new MLP with the architecture and parameters stored in ``path``.

    A model of more than ``max_parameters`` (default ``nn.module.MAX_PARAMETERS``)
    parameters is refused before anything is built.
    """
    return load_with_loss(path, max_parameters=max_parameters)[0]


def load_with_loss(path: PathType, *, max_parameters: Optional[int] = None) -> Tuple[MLP, Optional[str]]:
    """``load(path)`` and the name of the loss saved with the model (None if the file has none)."""
    limit = parameter_limit(max_parameters)
    architecture, params, loss = _read(path, limit)
    model = MLP(**architecture, seed=0, max_parameters=limit)
    _load_params(model, params, path)
    return model, loss


def load_into(model: MLP, path: PathType) -> None:
    """Load the parameters in ``path`` into an existing ``model`` of the same architecture.

    The layer sizes and activations must match (the ``init`` scheme may differ: it only
    says how the saved weights started).  On any error the model is unchanged.
    """
    if not isinstance(model, MLP):
        raise TypeError(f"load_into needs an nn.MLP, got {type(model).__name__}")
    architecture, params, _ = _read(path, max(parameter_limit(None), model.num_parameters()))
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


def _read_bytes(name: str, limit: int) -> bytes:
    """The file's bytes, refusing early what cannot be a model: a NUL byte (``/dev/zero``,
    ``/dev/urandom``, any binary file) or more than the byte limit for ``limit`` parameters."""
    most = BYTES_PER_PARAMETER * limit + _CHUNK
    chunks: List[bytes] = []
    size = 0
    with open(name, "rb") as f:  # FileNotFoundError names the file already
        while True:
            chunk = f.read(_CHUNK)
            if not chunk:
                return b"".join(chunks)
            at = chunk.find(b"\0")
            if at >= 0:
                raise ValueError(f"{name}: not valid JSON (binary data: a NUL byte at offset "
                                 f"{size + at}), not a deltagrad model")
            size += len(chunk)
            if size > most:
                raise ValueError(f"{name}: larger than {most:,} bytes, the most a model file of "
                                 f"up to {limit:,} parameters may take ({BYTES_PER_PARAMETER} "
                                 "bytes each, plus 1 MiB); pass max_parameters= to allow more")
            chunks.append(chunk)


def _read(path: PathType, limit: int) -> Tuple[Dict[str, Any], Dict[str, Any], Optional[str]]:
    """Parse and check a model file; returns (architecture, parameters, loss name or None)
    or raises ValueError.

    ``limit`` is the most parameters the architecture may imply.
    """
    name = os.fspath(path)
    raw = _read_bytes(name, limit)
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
                 if is_integer(version) and version > VERSION
                 else "")
        raise ValueError(f"{name}: unsupported model file version {version!r}{newer}; "
                         f"this deltagrad reads version {VERSION}")
    for key in ("architecture", "parameters"):
        if not isinstance(document.get(key), dict):
            raise ValueError(f"{name}: the file has no {key!r} object")
    architecture = _check_architecture(document["architecture"], name)
    params = document["parameters"]
    _check_names(architecture["nin"], architecture["nouts"], params, limit, name)
    for key, value in params.items():
        if not is_real(value):
            raise ValueError(f"{name}: parameter {key!r} is not a number: {value!r}")
    loss = document.get("loss")
    if loss is not None and (loss.__class__ is not str or loss not in LOSSES):
        raise ValueError(f"{name}: the loss saved with the model is {loss!r}, not one of "
                         f"{', '.join(LOSSES)}")
    return architecture, params, loss


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


def _check_names(nin: int, nouts: List[int], params: Dict[str, Any], limit: int, name: str) -> None:
    """The parameter names must be exactly the architecture's, checked without building it
    (so a small file claiming ``"nin": 1000000000`` costs nothing)."""
    implied = count_parameters(nin, nouts)
    if implied > limit:
        raise ValueError(f"{name}: the architecture implies {implied:,} parameters, more than "
                         f"the limit of {limit:,}; pass max_parameters={implied} to load it anyway")
    sizes = [nin, *nouts]
    unexpected = [key for key in params if not _is_parameter_name(key, sizes)]
    if not unexpected and len(params) == implied:
        return
    n_missing = implied - (len(params) - len(unexpected))
    parts = []
    if n_missing:
        missing = list(islice((k for k in _parameter_names(sizes) if k not in params), 5))
        parts.append(f"missing {n_missing} parameter(s): {_listing(missing, n_missing)}")
    if unexpected:
        parts.append(f"unexpected {len(unexpected)} key(s): "
                     f"{_listing(unexpected[:5], len(unexpected))}")
    raise ValueError(f"{name}: the architecture implies {implied:,} parameters and the file "
                     f"holds {len(params):,}: " + "; ".join(parts))


def _parameter_names(sizes: Sequence[int]) -> Iterator[str]:
    """``MLP.named_parameters()``'s names, in its order, for layer sizes [nin, *nouts]."""
    for i in range(len(sizes) - 1):
        for j in range(sizes[i + 1]):
            for k in range(sizes[i]):
                yield f"layers.{i}.neurons.{j}.w.{k}"
            yield f"layers.{i}.neurons.{j}.b"


def _is_parameter_name(key: str, sizes: Sequence[int]) -> bool:
    """Whether ``key`` is one of ``_parameter_names(sizes)``, without listing them."""
    parts = key.split(".")
    if len(parts) not in (5, 6) or parts[0] != "layers" or parts[2] != "neurons":
        return False
    indices = parts[1::2] if len(parts) == 6 else [parts[1], parts[3]]
    if not all(p.isascii() and p.isdigit() and str(int(p)) == p for p in indices):
        return False
    i, j = int(parts[1]), int(parts[3])
    if i >= len(sizes) - 1 or j >= sizes[i + 1]:
        return False
    if len(parts) == 5:
        return parts[4] == "b"
    return parts[4] == "w" and int(parts[5]) < sizes[i]


def _listing(names: List[str], total: int) -> str:
    shown = ", ".join(repr(n) for n in names)
    return shown + (f", ... ({total - len(names)} more)" if total > len(names) else "")


#: ``model.save(path)`` and ``model.load(path)``: the functions above, as methods of every MLP.
# (declared in MLP's TYPE_CHECKING block, where ``model`` is ``self``)
MLP.save = save  # type: ignore[method-assign,assignment]
MLP.load = load_into  # type: ignore[method-assign,assignment]
