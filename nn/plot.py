"""Pictures of training: loss/accuracy curves and a 2-D decision boundary (matplotlib).

matplotlib comes from the optional extra (``pip install 'deltagrad[plot]'``) and is only
imported when a picture is drawn.  Figures are made with matplotlib's object interface
on the Agg canvas, so plotting never changes the pyplot backend of a notebook or script.
The file format follows the path's suffix: ``.png`` or ``.svg``.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, List, Optional, Sequence, Tuple, Type, Union

from autograd.validate import integer

if TYPE_CHECKING:  # matplotlib itself is imported only when a picture is drawn
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from .train import History, Predictor

__all__ = ["plot_history", "plot_decision_boundary", "PlotUnavailable", "FORMATS", "image_format",
           "require_matplotlib"]

#: File formats the plots write, chosen by the path's suffix.
FORMATS = ("png", "svg")

# Colour-blind-safe class colours (Okabe-Ito), then lighter versions for the regions.
_COLORS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")


class PlotUnavailable(ImportError):
    """matplotlib is not installed; the message says how to install it."""


def require_matplotlib() -> None:
    """Raise ``PlotUnavailable`` (with the install command) unless matplotlib can be imported."""
    _figure_classes()


def _figure_classes() -> Tuple[Type[Figure], Type[FigureCanvasAgg]]:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as e:
        raise PlotUnavailable(
            "plots need matplotlib, which is not installed: pip install 'deltagrad[plot]' "
            "(or pip install matplotlib)") from e
    return Figure, FigureCanvasAgg


def _figure(nrows: int = 1, ncols: int = 1, size: Tuple[float, float] = (6.4, 4.8)) -> Tuple[Figure, Any]:
    """A matplotlib Figure on the Agg canvas, without pyplot (no global backend change)."""
    Figure, FigureCanvasAgg = _figure_classes()
    fig = Figure(figsize=size, dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def image_format(path: Union[str, os.PathLike[str]]) -> str:
    """"png" or "svg" from the path's suffix; anything else is a ValueError naming the path."""
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise ValueError(f"can't tell the image format from {str(path)!r}: use a .png or .svg file name")
    return suffix


def _save(fig: Any, path: Union[str, os.PathLike[str]], fmt: str) -> str:
    """Write the figure; SVG text stays text, and no date or hash salt varies between runs."""
    import matplotlib

    metadata = {"Date": None} if fmt == "svg" else {"Software": None}
    with matplotlib.rc_context({"svg.hashsalt": "deltagrad", "svg.fonttype": "none"}):
        fig.savefig(path, format=fmt, metadata=metadata, bbox_inches="tight")
    return str(path)


def _finite(values: Sequence[Optional[float]]) -> List[Tuple[int, float]]:
    return [(i + 1, v) for i, v in enumerate(values) if v is not None and math.isfinite(v)]


def plot_history(history: History, path: Union[str, os.PathLike[str]], title: Optional[str] = None) -> str:
    """Draw ``history`` (what ``nn.fit`` returns) to ``path``: the loss per epoch and, when
    recorded, the accuracy per epoch beside it.  Returns the path.

    The loss axis is logarithmic when the loss stays positive and spans more than a factor
    of 10.  Epochs whose loss is nan or inf are left out and counted in the title.
    """
    fmt = image_format(path)
    loss = list(getattr(history, "loss", None) or [])
    if not loss:
        raise ValueError("plot_history: the history has no epochs to draw (history.loss is empty)")
    accuracy = list(getattr(history, "accuracy", None) or [])
    has_acc = any(a is not None for a in accuracy)
    fig, axes = _figure(1, 2 if has_acc else 1, (10.0 if has_acc else 6.0, 3.8))
    ax = axes[0][0]
    points = _finite(loss)
    dropped = len(loss) - len(points)
    if points:
        xs, ys = zip(*points)
        ax.plot(xs, ys, color=_COLORS[0], linewidth=1.8)
        if min(ys) > 0 and max(ys) / min(ys) > 10:
            ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title("loss" + (f" ({dropped} non-finite epoch{'s' if dropped != 1 else ''} left out)"
                           if dropped else ""))
    ax.grid(True, alpha=0.3)
    if has_acc:
        ax = axes[0][1]
        xs, ys = zip(*[(i, 100.0 * a) for i, a in _finite(accuracy)])
        ax.plot(xs, ys, color=_COLORS[2], linewidth=1.8)
        ax.set_ylim(0, 101)
        ax.set_xlabel("epoch")
        ax.set_ylabel("accuracy (%)")
        ax.set_title(f"accuracy (last: {ys[-1]:.1f}%)")
        ax.grid(True, alpha=0.3)
    if title:
        fig.suptitle(title)
    return _save(fig, path, fmt)


def _scores(model: Predictor, grid: List[List[float]]) -> List[Any]:
    """The model's output for every grid point, as floats (a list per point for several outputs)."""
    from autograd import no_grad

    out = []
    with no_grad():
        for point in grid:
            pred = model(point)
            out.append([v.data for v in pred] if isinstance(pred, list) else pred.data)
    return out


def _shade_classes(ax: Any, scores: List[List[float]], gx: List[float], gy: List[float],
                   extent: Tuple[float, float, float, float]) -> None:
    """Several outputs: each grid point coloured by its largest output, class edges drawn."""
    from matplotlib.colors import ListedColormap

    k, n = len(scores[0]), len(gx)
    cls = [max(range(k), key=s.__getitem__) for s in scores]
    Z = [cls[j * n:(j + 1) * n] for j in range(len(gy))]
    cmap = ListedColormap([_COLORS[c % len(_COLORS)] for c in range(k)])
    ax.imshow(Z, origin="lower", extent=extent, cmap=cmap, vmin=-0.5, vmax=k - 0.5,
              alpha=0.2, aspect="auto", interpolation="nearest")
    for c in sorted(set(cls)):  # each class region's edge: the boundaries between classes
        inside = [[1.0 if v == c else 0.0 for v in row] for row in Z]
        ax.contour(gx, gy, inside, levels=[0.5], colors="#333333", linewidths=1.0)


def _shade_scores(ax: Any, scores: List[float], threshold: float, gx: List[float], gy: List[float],
                  extent: Tuple[float, float, float, float], ends: Tuple[str, str]) -> None:
    """One output: shaded by the score's distance from the threshold, squashed so outliers
    don't wash it out, with the boundary (score = threshold) as a line."""
    from matplotlib.colors import LinearSegmentedColormap

    spread = sorted(abs(s - threshold) for s in scores if math.isfinite(s))
    scale = spread[int(0.9 * (len(spread) - 1))] if spread else 1.0
    scale = scale or 1.0
    shade = [math.tanh((s - threshold) / scale) if math.isfinite(s) else 0.0 for s in scores]
    n = len(gx)
    Z = [shade[j * n:(j + 1) * n] for j in range(len(gy))]
    cmap = LinearSegmentedColormap.from_list("deltagrad", [ends[0], "#ffffff", ends[1]])
    ax.imshow(Z, origin="lower", extent=extent, cmap=cmap, vmin=-2.2, vmax=2.2,
              aspect="auto", interpolation="bilinear")
    ax.contour(gx, gy, Z, levels=[0.0], colors="#333333", linewidths=1.5)


def plot_decision_boundary(model: Predictor, X: Sequence[Sequence[float]], y: Sequence[Any],
                           path: Union[str, os.PathLike[str]], resolution: int = 120,
                           threshold: Optional[float] = None, title: Optional[str] = None) -> str:
    """Draw the classes ``model`` assigns over the plane, with the points ``X`` coloured by ``y``.

    For one output the class is ``score > threshold`` (default 0: the sign of a hinge or
    logit score; 0.5 for a sigmoid output), shaded by how far the score is from it, with the
    boundary as a line; for several outputs it is the largest output.  ``X`` must be 2-D.
    ``resolution`` is the number of grid points per axis.  Returns the path.
    """
    fmt = image_format(path)
    X = [list(p) for p in X]
    y = list(y)
    if not X:
        raise ValueError("plot_decision_boundary: X is empty")
    if len(X) != len(y):
        raise ValueError(f"plot_decision_boundary: {len(X)} points but {len(y)} labels")
    if any(len(p) != 2 for p in X):
        raise ValueError("plot_decision_boundary: the points must be 2-D (two coordinates each)")
    integer(resolution, "plot_decision_boundary: resolution", 2, 1000)
    if threshold is None:
        threshold = 0.5 if getattr(model, "output_activation", None) == "sigmoid" else 0.0

    fig, axes = _figure(1, 1, (6.0, 5.0))
    ax = axes[0][0]
    xs = [p[0] for p in X]
    ys = [p[1] for p in X]
    pad_x = 0.1 * (max(xs) - min(xs) or 1.0)
    pad_y = 0.1 * (max(ys) - min(ys) or 1.0)
    x0, x1, y0, y1 = min(xs) - pad_x, max(xs) + pad_x, min(ys) - pad_y, max(ys) + pad_y
    gx = [x0 + (x1 - x0) * i / (resolution - 1) for i in range(resolution)]
    gy = [y0 + (y1 - y0) * j / (resolution - 1) for j in range(resolution)]
    scores = _scores(model, [[a, b] for b in gy for a in gx])
    labels = sorted(set(y), key=lambda v: (float(v) if isinstance(v, (int, float)) else 0, str(v)))
    colors = {label: _COLORS[k % len(_COLORS)] for k, label in enumerate(labels)}

    extent = (x0, x1, y0, y1)
    if scores and isinstance(scores[0], list):
        _shade_classes(ax, scores, gx, gy, extent)
    else:
        low, high = colors[labels[0]], colors[labels[-1]] if len(labels) > 1 else _COLORS[1]
        _shade_scores(ax, scores, threshold, gx, gy, extent, (low, high))
    for label in labels:
        pts = [p for p, t in zip(X, y) if t == label]
        ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=28, c=colors[label],
                   edgecolors="#222222", linewidths=0.5, label=f"class {label}", zorder=3)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xlabel("x[0]")
    ax.set_ylabel("x[1]")
    ax.legend(loc="best", fontsize=8, framealpha=0.85)
    ax.set_title(title or "decision boundary")
    return _save(fig, path, fmt)
