"""Saving and loading models: exact round trips, atomic writes, every bad file refused cleanly."""

from __future__ import annotations

import json
import os
import stat

import pytest

import nn
from nn import io as nn_io

ARCH = dict(nin=2, nouts=[3, 2], activation="tanh", output_activation="sigmoid", init="xavier")


@pytest.fixture
def model():
    return nn.MLP(**ARCH, seed=7)


@pytest.fixture
def saved(tmp_path, model):
    path = tmp_path / "model.json"
    model.save(path)
    return path


def test_round_trip_is_bit_for_bit(tmp_path):
    model = nn.MLP(3, [5, 4, 2], activation="leaky_relu", output_activation="linear", init="he", seed=1)
    for p in model.parameters():  # awkward floats, far from short decimals
        p.data = p.data / 3.0 + 1e-17
    path = tmp_path / "m.json"
    model.save(path)
    loaded = nn.load(path)
    assert loaded.architecture == model.architecture
    assert repr(loaded) == repr(model)
    assert loaded.state_dict() == model.state_dict()
    for x in ([0.1, 0.2, 0.3], [-5.0, 1e-3, 7.25], [1e6, -1e-6, 0.0]):
        assert [o.data for o in loaded(x)] == [o.data for o in model(x)]


def test_file_layout(saved, model):
    document = json.loads(saved.read_text(encoding="utf-8"))
    assert document["format"] == "deltagrad-mlp" and document["version"] == 1
    assert document["architecture"] == ARCH
    assert document["parameters"] == model.state_dict()
    assert list(document["parameters"]) == [name for name, _ in model.named_parameters()]


def test_load_into_an_existing_model(saved, model):
    other = nn.MLP(**ARCH, seed=99)
    assert other.state_dict() != model.state_dict()
    other.load(saved)
    assert other.state_dict() == model.state_dict()


def test_load_into_a_model_with_another_init_scheme(saved, model):
    other = nn.MLP(**dict(ARCH, init="uniform"), seed=99)
    other.load(saved)
    assert other.state_dict() == model.state_dict()


def test_save_accepts_str_paths_and_overwrites(tmp_path, model):
    path = str(tmp_path / "m.json")
    nn.MLP(**ARCH, seed=1).save(path)
    model.save(path)
    assert nn.load(path).state_dict() == model.state_dict()
    assert os.listdir(tmp_path) == ["m.json"]  # no temporary files left behind


def test_save_is_atomic_when_the_write_fails(saved, model, monkeypatch):
    original = saved.read_bytes()

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(nn_io.os, "replace", broken_replace)
    for p in model.parameters():
        p.data += 1.0
    with pytest.raises(OSError, match="disk full"):
        model.save(saved)
    assert saved.read_bytes() == original
    assert os.listdir(saved.parent) == ["model.json"]


def test_save_refuses_non_finite_parameters(tmp_path, model):
    model.layers[1].neurons[0].b.data = float("nan")
    path = tmp_path / "nan.json"
    with pytest.raises(ValueError, match=f"{path}.*'layers.1.neurons.0.b' is nan"):
        model.save(path)
    assert not path.exists()


def test_save_into_a_missing_directory(tmp_path, model):
    with pytest.raises(FileNotFoundError):
        model.save(tmp_path / "nope" / "m.json")


def test_missing_file_names_the_file(tmp_path, model):
    path = tmp_path / "absent.json"
    before = model.state_dict()
    with pytest.raises(FileNotFoundError, match="absent.json"):
        nn.load(path)
    with pytest.raises(FileNotFoundError, match="absent.json"):
        model.load(path)
    assert model.state_dict() == before


# --- every kind of bad file ----------------------------------------------------------

def _edit(change):
    """A bad file made by changing the parsed JSON of a good one."""
    def make(text):
        document = json.loads(text)
        change(document)
        return json.dumps(document)
    return make


def _set_param(value):
    def change(doc):
        doc["parameters"]["layers.1.neurons.1.b"] = value
    return _edit(change)


def _raw_value(text_value):
    """A bad file made by writing ``text_value`` as the raw JSON text of one parameter."""
    def make(text):
        old = '"layers.0.neurons.0.b": 0.0'
        assert old in text
        return text.replace(old, '"layers.0.neurons.0.b": ' + text_value)
    return make


BAD_FILES = {
    "empty": (lambda text: "", "the file is empty"),
    "whitespace": (lambda text: "  \n", "the file is empty"),
    "truncated": (lambda text: text[: len(text) // 2], "not valid JSON .*truncated"),
    "not json": (lambda text: "hello, model", "not valid JSON"),
    "binary": (lambda text: "\x00\xff\xfe", "not valid JSON|not UTF-8"),
    "json list": (lambda text: "[1, 2, 3]", "expected a JSON object, found list"),
    "wrong format": (_edit(lambda d: d.update(format="keras")),
                     "format is 'keras', expected 'deltagrad-mlp'"),
    "no format": (_edit(lambda d: d.pop("format")), "format is None"),
    "newer version": (_edit(lambda d: d.update(version=2)), "version 2 .*newer deltagrad"),
    "version string": (_edit(lambda d: d.update(version="1")), "unsupported model file version '1'"),
    "version bool": (_edit(lambda d: d.update(version=True)), "unsupported model file version True"),
    "no version": (_edit(lambda d: d.pop("version")), "unsupported model file version None"),
    "no parameters": (_edit(lambda d: d.pop("parameters")), "no 'parameters' object"),
    "parameters list": (_edit(lambda d: d.update(parameters=[1.0])), "no 'parameters' object"),
    "missing parameter": (_edit(lambda d: d["parameters"].pop("layers.0.neurons.2.w.1")),
                          r"missing 1 parameter\(s\): 'layers.0.neurons.2.w.1'"),
    "extra parameter": (_edit(lambda d: d["parameters"].update({"layers.5.neurons.0.b": 0.0})),
                        r"unexpected 1 key\(s\): 'layers.5.neurons.0.b'"),
    "string parameter": (_set_param("0.5"), "parameter 'layers.1.neurons.1.b' is not a number: '0.5'"),
    "null parameter": (_set_param(None), "'layers.1.neurons.1.b' is not a number: None"),
    "bool parameter": (_set_param(True), "'layers.1.neurons.1.b' is not a number: True"),
    "nan parameter": (_raw_value("NaN"), "NaN is not a number a model file may hold"),
    "infinite parameter": (_raw_value("-Infinity"), "-Infinity is not a number"),
    "overflowing parameter": (_raw_value("1e999"), "'layers.0.neurons.0.b' must be finite, got inf"),
    "duplicate key": (_raw_value('1.0, "layers.0.neurons.0.b": 2.0'),
                      "key 'layers.0.neurons.0.b' appears twice"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_file_is_refused_naming_the_file(case, saved, model):
    make, message = BAD_FILES[case]
    saved.write_text(make(saved.read_text(encoding="utf-8")), encoding="latin-1")
    before = model.state_dict()
    with pytest.raises(ValueError, match=message) as info:
        nn.load(saved)
    assert str(saved) in str(info.value)
    for p in model.parameters():
        p.grad = 1.5
    with pytest.raises(ValueError, match=message) as info:
        model.load(saved)
    assert str(saved) in str(info.value)
    assert model.state_dict() == before
    assert all(p.grad == 1.5 for p in model.parameters())


BAD_ARCHITECTURES = {
    "activation": ({"activation": "swish"}, "architecture activation 'swish' is not one of relu, tanh"),
    "output activation": ({"output_activation": "softmax"}, "output_activation 'softmax' is not one of"),
    "init": ({"init": "orthogonal"}, "init 'orthogonal' is not one of uniform, xavier, he"),
    "empty nouts": ({"nouts": []}, "nouts must be a non-empty list of positive integers, got \\[\\]"),
    "zero width": ({"nouts": [3, 0]}, "nouts must be a non-empty list"),
    "float width": ({"nouts": [3.0, 2]}, "nouts must be a non-empty list"),
    "nin": ({"nin": "2"}, "nin must be a positive integer, got '2'"),
    "unknown key": ({"dropout": 0.5}, "architecture has unknown keys 'dropout'"),
}


@pytest.mark.parametrize("case", list(BAD_ARCHITECTURES))
def test_bad_architecture_is_refused(case, saved):
    change, message = BAD_ARCHITECTURES[case]
    document = json.loads(saved.read_text(encoding="utf-8"))
    document["architecture"].update(change)
    saved.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(ValueError, match=message) as info:
        nn.load(saved)
    assert str(saved) in str(info.value)


def test_architecture_missing_a_key(saved):
    document = json.loads(saved.read_text(encoding="utf-8"))
    del document["architecture"]["nouts"]
    saved.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(ValueError, match="architecture is missing nouts"):
        nn.load(saved)


@pytest.mark.parametrize("other, message", [
    (dict(ARCH, nouts=[4, 2]), r"nouts \[3, 2\] \(the model has \[4, 2\]\)"),
    (dict(ARCH, nin=3), r"nin 2 \(the model has 3\)"),
    (dict(ARCH, activation="relu"), r"activation 'tanh' \(the model has 'relu'\)"),
    (dict(ARCH, output_activation="linear"), r"output_activation 'sigmoid' \(the model has 'linear'\)"),
])
def test_loading_into_a_different_architecture(saved, other, message):
    model = nn.MLP(**other, seed=3)
    before = model.state_dict()
    with pytest.raises(ValueError, match=f"architecture does not match the model: .*{message}") as info:
        model.load(saved)
    assert str(saved) in str(info.value)
    assert model.state_dict() == before


def test_a_directory_is_not_a_model(tmp_path):
    with pytest.raises(OSError):
        nn.load(tmp_path)


def test_save_and_load_need_an_mlp(tmp_path):
    with pytest.raises(TypeError, match="needs an nn.MLP, got Layer"):
        nn_io.save(nn.Layer(2, 2), tmp_path / "x.json")
    with pytest.raises(TypeError, match="needs an nn.MLP"):
        nn_io.load_into(nn.Layer(2, 2), tmp_path / "x.json")


def test_a_parameter_too_large_for_a_float_is_refused_by_name(tmp_path, model):
    path = tmp_path / "big.json"
    model.save(path)
    text = path.read_text()
    name, _ = next(iter(model.state_dict().items()))
    document = json.loads(text)
    document["parameters"][name] = 1
    path.write_text(json.dumps(document).replace(f'"{name}": 1', f'"{name}": 1{"0" * 400}'))
    before = model.state_dict()
    with pytest.raises(ValueError, match="too large for a float"):
        model.load(path)
    assert model.state_dict() == before


# --- saving keeps what users expect of a file: its mode, its symlink, their path ------------

def _mode(path) -> int:
    return os.stat(path).st_mode & 0o7777


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o600, 0o664])
def test_save_keeps_an_existing_files_mode(saved, model, mode):
    os.chmod(saved, mode)
    model.save(saved)
    assert _mode(saved) == mode


@pytest.mark.parametrize("umask, expected", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_save_gives_a_new_file_the_umask_default(tmp_path, model, umask, expected):
    old = os.umask(umask)
    try:
        model.save(tmp_path / "new.json")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "new.json") == expected  # 0o666 & ~umask, like any new file


@pytest.mark.parametrize("relative", [True, False])
def test_save_through_a_symlink_writes_the_target_and_keeps_the_link(tmp_path, model, relative):
    (tmp_path / "models").mkdir()
    target = tmp_path / "models" / "real.json"
    nn.MLP(**ARCH, seed=1).save(target)
    os.chmod(target, 0o640)
    link = tmp_path / "current.json"
    link.symlink_to(os.path.join("models", "real.json") if relative else target)
    model.save(link)
    assert link.is_symlink() and os.readlink(link) == (
        os.path.join("models", "real.json") if relative else str(target))
    assert nn.load(target).state_dict() == model.state_dict()  # the target is up to date
    assert _mode(target) == 0o640
    assert sorted(os.listdir(tmp_path / "models")) == ["real.json"]  # no temporary file left
    assert sorted(os.listdir(tmp_path)) == ["current.json", "models"]


def test_save_into_a_missing_folder_names_the_path_given(tmp_path, model):
    given = tmp_path / "nope" / "m.json"
    with pytest.raises(FileNotFoundError) as info:
        model.save(given)
    assert str(given) in str(info.value) and ".deltagrad-" not in str(info.value)
    assert info.value.filename == str(given)


def test_save_onto_a_folder_is_refused_naming_the_path_given(tmp_path, model):
    given = tmp_path / "a folder"
    given.mkdir()
    with pytest.raises(IsADirectoryError) as info:
        model.save(given)
    assert str(given) in str(info.value) and ".deltagrad-" not in str(info.value)
    assert os.listdir(given) == [] and os.listdir(tmp_path) == ["a folder"]


def test_save_never_replaces_a_device_or_a_pipe(tmp_path, model):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no named pipes here")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match=f"cannot save to {fifo}: it is not a regular file"):
        model.save(fifo)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and os.listdir(tmp_path) == ["pipe"]
    if os.path.exists("/dev/null"):
        with pytest.raises(ValueError, match="cannot save to /dev/null: it is not a regular file"):
            model.save("/dev/null")  # as root the old rename replaced the device
        assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


# --- loading refuses what would exhaust memory before building or reading it ---------------

def _document(arch, params) -> str:
    return json.dumps({"format": "deltagrad-mlp", "version": 1,
                       "architecture": dict(ARCH, **arch), "parameters": params})


@pytest.fixture
def no_building(monkeypatch):
    """Fail the test if load builds a model."""
    def refuse(*args, **kwargs):
        raise AssertionError("load built a model")
    monkeypatch.setattr(nn_io, "MLP", refuse)


def test_load_refuses_an_architecture_above_the_limit_before_building(tmp_path, no_building):
    path = tmp_path / "bomb.json"
    path.write_text(_document({"nin": 1_000_000_000, "nouts": [1]}, {}), encoding="utf-8")
    assert path.stat().st_size < 200  # the 185-byte file
    with pytest.raises(ValueError, match=r"implies 1,000,000,001 parameters, more than the limit "
                                         r"of 10,000,000; pass max_parameters=1000000001") as info:
        nn.load(path)
    assert str(path) in str(info.value)


def test_load_refuses_a_parameter_count_the_file_does_not_hold_before_building(tmp_path,
                                                                               no_building):
    path = tmp_path / "short.json"
    path.write_text(_document({"nin": 3_000_000, "nouts": [2]}, {}), encoding="utf-8")
    with pytest.raises(ValueError, match=r"implies 6,000,002 parameters and the file holds 0: "
                                         r"missing 6000002 parameter\(s\): 'layers.0.neurons.0.w.0'"):
        nn.load(path)


def test_load_max_parameters_sets_the_limit(saved, model):
    n = model.num_parameters()
    with pytest.raises(ValueError, match=f"implies {n} parameters, more than the limit of {n - 1}"):
        nn.load(saved, max_parameters=n - 1)
    assert nn.load(saved, max_parameters=n).state_dict() == model.state_dict()
    with pytest.raises(TypeError, match="max_parameters must be a positive integer"):
        nn.load(saved, max_parameters="many")


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_load_refuses_an_endless_device_at_once(device):
    if not os.path.exists(device):
        pytest.skip(f"no {device} here")
    with pytest.raises(ValueError, match=f"{device}: not valid JSON \\(binary data: a NUL byte"):
        nn.load(device)


def test_load_stops_reading_an_endless_text_stream_at_the_stated_limit(tmp_path):
    import threading

    fifo = tmp_path / "endless"
    if not hasattr(os, "mkfifo"):
        pytest.skip("no named pipes here")
    os.mkfifo(fifo)
    written = [0]

    def writer():
        with open(fifo, "wb") as f:
            try:
                while written[0] < 100 << 20:  # an endless stream, as far as load can tell
                    f.write(b"{ " * 32768)
                    written[0] += 65536
            except BrokenPipeError:
                pass

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    limit = nn_io.BYTES_PER_PARAMETER * 10 + (1 << 20)
    with pytest.raises(ValueError, match=f"larger than {limit:,} bytes, the most a model file of "
                                         "up to 10 parameters may take"):
        nn.load(fifo, max_parameters=10)
    t.join(30)
    assert written[0] < limit + (4 << 20)  # load stopped reading soon after the limit


@pytest.mark.parametrize("nin, nouts", [(1, [1]), (2, [3, 2]), (3, [11, 1, 4]), (12, [10])])
def test_parameter_names_checked_without_a_model_are_the_models(nin, nouts):
    sizes = [nin, *nouts]
    names = [name for name, _ in nn.MLP(nin, nouts).named_parameters()]
    assert list(nn_io._parameter_names(sizes)) == names
    assert all(nn_io._is_parameter_name(name, sizes) for name in names)
    wrong = ["layers.0.neurons.0.w.01", f"layers.0.neurons.0.w.{nin}", f"layers.{len(nouts)}.neurons.0.b",
             "layers.0.neurons.0.b.0", "layers.0.neurons.0.x.0", "layers.0.neurons.٠.b", "layers.0"]
    assert not any(nn_io._is_parameter_name(name, sizes) for name in wrong)
