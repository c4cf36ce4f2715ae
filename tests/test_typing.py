"""The type hints: what a type checker is told matches what runs, and a user's script checks.

``Value``'s op methods and ``backward``/``explain``, and ``MLP.save``/``load``, are attached
at import, where a type checker cannot see them; they are declared for it in a
``TYPE_CHECKING`` block of their class.  The first tests keep those blocks and the running
classes in step.  The others run mypy, as a user would, on a script that uses the public API
(it must pass) and on one with type errors (each must be reported); they skip only when
mypy is not installed.
"""

import ast
import importlib.util
import inspect
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from autograd import OPS, Value
from nn import MLP

ROOT = Path(__file__).resolve().parent.parent


def _declared(path, class_name):
    """{name: ast.FunctionDef} of the ``if TYPE_CHECKING:`` block in ``class_name``, and the
    names the class body defines outside it."""
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == class_name)
    declared, defined = {}, set()
    for node in cls.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for stub in node.body:
                assert isinstance(stub, ast.FunctionDef), ast.unparse(stub)
                declared[stub.name] = stub
        elif isinstance(node, ast.FunctionDef):
            defined.add(node.name)
        elif isinstance(node, ast.Assign):  # __call__ = forward
            defined.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return declared, defined


def _attached(cls, defined):
    """The functions in ``cls.__dict__`` that its class body does not define."""
    return {name for name, attr in vars(cls).items()
            if inspect.isfunction(attr) and name not in defined}


def _parameters_after_self(stub):
    """(name, default) of a declaration's parameters after ``self``."""
    args = stub.args
    assert not args.vararg and not args.kwarg and not args.kwonlyargs, stub.name
    names = [a.arg for a in args.args[1:]]
    defaults = [ast.literal_eval(d) for d in args.defaults]
    defaults = [inspect.Parameter.empty] * (len(names) - len(defaults)) + defaults
    return list(zip(names, defaults))


def _runtime_parameters(func):
    params = list(inspect.signature(func).parameters.values())[1:]
    assert all(p.kind is p.POSITIONAL_OR_KEYWORD for p in params), func
    return [(p.name, p.default) for p in params]


def test_value_declares_exactly_the_op_table_methods_and_the_attached_ones():
    declared, defined = _declared("autograd/value.py", "Value")
    from_table = {m for op in OPS.values() for m in (*op.methods, *op.reflected)}
    assert from_table <= set(declared), f"not declared for the type checker: {from_table - set(declared)}"
    assert set(declared) == _attached(Value, defined)
    assert set(declared) - from_table == {"backward", "explain"}


@pytest.mark.parametrize("cls, path", [(Value, "autograd/value.py"), (MLP, "nn/module.py")])
def test_declarations_have_the_running_methods_parameters(cls, path):
    declared, defined = _declared(path, cls.__name__)
    assert declared and set(declared) == _attached(cls, defined)
    for name, stub in declared.items():
        assert _parameters_after_self(stub) == _runtime_parameters(getattr(cls, name)), name
        assert ast.unparse(stub.args.args[0]) == "self"


def test_op_declarations_return_value_and_take_what_the_method_accepts():
    declared, _ = _declared("autograd/value.py", "Value")
    for name, stub in declared.items():
        if name in ("backward", "explain"):
            assert ast.unparse(stub.returns) == "None"
            continue
        assert ast.unparse(stub.returns) == "Value", name
        for arg in stub.args.args[1:]:
            hint = ast.unparse(arg.annotation)
            # a Value operand is taken by the two-operand rows; every one takes a number
            assert hint == ("Union[Value, float]" if _takes_a_value(name) else "float"), (name, hint)


def _takes_a_value(name):
    """Whether ``Value.<name>`` computes with a Value argument (rather than refusing it)."""
    try:
        out = getattr(Value(2.0), name)(Value(3.0))
    except TypeError:
        return False
    return out is not NotImplemented


def test_py_typed_markers_ship_with_the_packages():
    for package in ("autograd", "nn", "viz"):
        assert (ROOT / package / "py.typed").is_file()
    setup = (ROOT / "setup.cfg").read_text(encoding="utf-8")
    data = setup.split("[options.package_data]")[1].split("\n[")[0]
    for package in ("autograd", "nn", "viz"):
        assert re.search(rf"^{package} = .*py\.typed", data, re.M), package


# --- mypy on a user's scripts ---------------------------------------------------------

GOOD = """\
    from typing import List, Optional

    import autograd
    import nn
    import viz
    from autograd import Value

    a = Value(2.0, label="a")
    b = a * 3 + Value(1.0).tanh()
    c = (2 ** b - a / 4 + 1).relu() + autograd.sum([a, b, 1.5]) + autograd.dot([a, b], [1.0, 2])
    c = abs(-c.leaky_relu(slope=0.1)) ** 2 ** a
    c.backward()
    c.explain(limit=3)
    grads: List[float] = [v.grad for v in (a, b, c)]

    model = nn.MLP(2, [4, 1], activation="tanh", seed=0)
    X, y = nn.data.make_moons(16, seed=0, labels="pm1")
    history = nn.fit(model, X, y, loss="hinge", optimizer=nn.Adam(model.parameters(), lr=0.01),
                     epochs=2, verbose=False)
    last: float = history.loss[-1]
    accuracy: Optional[float] = history.accuracy[-1]
    out = model([0.5, -1.0])
    score: float = out.data if isinstance(out, Value) else out[0].data
    model.save("model.json")
    model.load("model.json")
    picture: str = viz.svg(b, rankdir="TB")
    network: str = viz.svg(viz.network(model, [0.5, -1.0]))
    """

# Each line after the import is wrong, and mypy must say so on that line.
BAD = """\
    import nn
    from autograd import Value
    Value("x")
    nn.MLP(2, "a")
    Value(1.0).tanh(2)
    text: str = Value(1.0) * 2 + 1
    number: float = Value(1.0).relu()
    Value(1.0).data.backward()
    Value(1.0).leaky_relu(slope="steep")
    nn.fit(nn.MLP(2, [1]), [[0.0, 1.0]], [1.0], epochs="ten")
    """


@pytest.fixture(scope="module")
def mypy_output(tmp_path_factory):
    """mypy --strict on both scripts (one run), as a user's project sees deltagrad: an
    installed package (found on sys.path, so typed only through its py.typed markers)."""
    if importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy is not installed" + (" (the test extra leaves it out on PyPy: mypy 1.19 imports "
                                               "librt, which has no PyPy build)" if sys.implementation.name
                                               == "pypy" else ""))
    tmp_path = tmp_path_factory.mktemp("typing")
    for name, source in (("good.py", GOOD), ("bad.py", BAD)):
        (tmp_path / name).write_text(textwrap.dedent(source), encoding="utf-8")
    # torch and matplotlib ship their own (large) hints; a user of neither would not read them.
    (tmp_path / "mypy.ini").write_text("[mypy]\n\n[mypy-torch.*,matplotlib.*,numpy.*]\n"
                                       "follow_imports = skip\nfollow_imports_for_stubs = True\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--config-file", "mypy.ini",
         "--cache-dir", str(tmp_path / "cache"), "good.py", "bad.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    return result.stdout + result.stderr


def test_a_script_using_the_public_api_type_checks(mypy_output):
    assert "good.py" not in mypy_output, mypy_output
    checked = re.search(r"^Found \d+ errors? in 1 file \(checked 2 source files\)", mypy_output, re.M)
    assert checked, mypy_output


def test_wrong_types_are_reported_on_every_wrong_line(mypy_output):
    wrong_lines = set(range(3, len(BAD.strip().splitlines()) + 1))
    reported = {int(n) for n in re.findall(r"^bad\.py:(\d+): error", mypy_output, re.M)}
    assert reported == wrong_lines, mypy_output
    assert "py.typed" not in mypy_output and "import-untyped" not in mypy_output, mypy_output
