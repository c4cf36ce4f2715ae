"""Neural networks on deltagrad Values: neurons, layers, MLPs, losses, optimisers, training."""

import autograd as _engine

if not hasattr(_engine, "OPS"):  # another distribution's top-level ``autograd`` came first
    raise ImportError(
        f"the package 'autograd' at {_engine.__file__} is not deltagrad's engine but another package "
        "of that name (HIPS autograd, pip install autograd, has it too); the two cannot share an "
        "environment: install deltagrad in a virtual environment of its own (python3 -m venv .venv)")

from .bridge import from_torch, to_torch
from .health import HealthReport, LayerHealth, health
from .io import load
from .losses import LOSSES, bce_with_logits, cross_entropy, hinge, mse
from .manual import ManualResult, manual_backprop
from .module import MLP, Layer, Module, Neuron, Trace
from . import data, optim
from .plot import PlotUnavailable, plot_decision_boundary, plot_history
from .optim import (
    SGD, Adam, AdamW, CosineDecay, ExponentialDecay, LinearDecay, RMSprop, StepDecay, clip_grad_norm,
    clip_grad_value,
)
from .train import History, evaluate, fit

__all__ = [
    "Module", "Neuron", "Layer", "MLP", "Trace",
    "mse", "hinge", "bce_with_logits", "cross_entropy", "LOSSES",
    "manual_backprop", "ManualResult",
    "load",
    "data", "optim", "SGD", "Adam", "AdamW", "RMSprop",
    "LinearDecay", "StepDecay", "ExponentialDecay", "CosineDecay",
    "clip_grad_norm", "clip_grad_value", "fit", "evaluate", "History",
    "health", "HealthReport", "LayerHealth",
    "plot_history", "plot_decision_boundary", "PlotUnavailable",
    "to_torch", "from_torch",
]
