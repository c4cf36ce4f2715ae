"""deltagrad's scalar autograd engine.

``Value`` holds one number and the graph that made it; ``backward()`` applies the chain
rule over that graph using each node's stored local derivatives.
"""

from .check import GradcheckError, gradcheck
from .compile import Compiled, compile  # noqa: A004  (autograd.compile, like jax.jit)
from .define import DefinedOp, define_op
from .explain import explain, node_names
from .functional import grad, hessian, hvp, jvp
from .graph import backward, topological_order, zero_grad
from .modes import detect_anomaly, is_anomaly_enabled, is_grad_enabled, no_grad
from .ops import OPS, Op
from .value import Value, dot
from .value import vsum as sum  # noqa: A001  (autograd.sum is the fused n-ary sum node)

__version__ = "0.1.0"

__all__ = [
    "Value", "sum", "dot", "backward", "zero_grad", "topological_order",
    "no_grad", "detect_anomaly", "is_grad_enabled", "is_anomaly_enabled",
    "gradcheck", "GradcheckError", "OPS", "Op", "explain", "node_names", "compile", "Compiled",
    "grad", "hessian", "hvp", "jvp", "define_op", "DefinedOp",
]
