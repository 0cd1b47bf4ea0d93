"""A model file that save() could not have written is refused at load, before it costs much."""

import os

import numpy as np
import pytest
import safetensors
import torch
from safetensors.torch import save_file

from sk_i2moe import I2MoEClassifier, I2MoERegressor, _file_checks, load
from sk_i2moe._file_checks import check_optimizer_groups
from sk_i2moe._io import ModelFileError

from .helpers import TINY, read_tensors
from .helpers import rewrite_model_file as _rewrite
from .helpers import three_modalities as _data


def _array(values, dtype):
    return {"__ndarray__": values, "dtype": dtype, "shape": [len(values)]}


def _group_setting(name, value):
    def edit(document, tensors):
        pairs = document["optimizer"]["param_groups"][0]["__mapping__"]
        for pair in pairs:
            if pair[0] == name:
                pair[1] = value

    return edit


def _swap_two_expert_names(document, tensors):
    names = document["fitted"]["expert_names_"]
    names[-1], names[-2] = names[-2], names[-1]


def _swap_modality_order(document, tensors):
    spec = document["input_spec"]
    for key in ("names", "n_features"):
        items = spec[key]["__tuple__"]
        items[0], items[1] = items[1], items[0]


def _buffer(ending, value):
    def edit(document, tensors):
        for name in [k for k in tensors if k.startswith("module.") and k.endswith(ending)]:
            tensors[name] = torch.full_like(tensors[name], value)

    return edit


def _frozen_entry(name, value):
    def edit(document, tensors):
        document["fitted"]["_frozen"]["__mapping__"].append([name, value])

    return edit


def _first_modality_named(name):
    def edit(document, tensors):
        document["input_spec"]["names"]["__tuple__"][0] = name

    return edit


def _negative_step(document, tensors):
    name = next(k for k in tensors if k.startswith("optimizer.") and k.endswith(".step"))
    tensors[name] = -tensors[name]


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d, t: d["fitted"].update(classes_=_array([1, 0], "<i8")), "distinct sorted"),
        (lambda d, t: d["fitted"].update(classes_=_array([1, 1], "<i8")), "distinct sorted"),
        (_swap_two_expert_names, "are not its network's"),
        (
            lambda d, t: d["fitted"].update(interaction_weights_=_array([0.5, 0.5], "<f4")),
            "finite weights that sum to 1",
        ),
        (lambda d, t: d["fitted"].update(batch_size_=0), r"batch_size_=0 is not a count"),
        (lambda d, t: d["fitted"].update(_multilabel="yes"), "is not a bool"),
        (lambda d, t: d["fitted"].update(validation_loss_="x"), "neither None nor finite"),
        (_swap_modality_order, "disagrees with itself"),
        (lambda d, t: d["params"].update(n_layers=20_000), "more than the .* tensors it holds"),
        (lambda d, t: d["fitted"].update(n_members_=10**9), "more than the .* tensors it holds"),
        (
            lambda d, t: d["fitted"].update(classes_=_array(["a", "b"], "<U500000000")),
            "strings are at most 1 characters",
        ),
        (lambda d, t: d.update(format=True), "model format True"),
        (_group_setting("betas", {"__tuple__": ["a", "b"]}), "lr, eps, weight_decay or betas"),
        (_group_setting("weight_decay", {"__float__": "nan"}), "lr, eps, weight_decay or betas"),
        (_group_setting("amsgrad", True), r"\['amsgrad'\] differ"),
        (_negative_step, "is negative"),
        # each empty string costs 4 KiB once decoded: 20 MB from a file of about 100 kB
        (
            lambda d, t: d["fitted"].update(classes_=_array([""] * 5000, "<U1024")),
            "string arrays would take 20,480,000 bytes",
        ),
        (
            lambda d, t: d["fitted"].update(classes_=_array([0, 10**30], "<i8")),
            "malformed.*OverflowError",
        ),
        (_group_setting("lr", _array([10**30], "<i8")), "optimizer state .* is malformed"),
        (lambda d, t: d["fitted"].update(classes_=_array([1, "a"], "|O")), "distinct sorted"),
        (
            _group_setting("weight_decay", 1e6),
            r"\['weight_decay'\] differ.*1000000.0 \(built: 0.01\)",
        ),
        (_group_setting("eps", 1e30), r"\['eps'\] differ"),
        (_group_setting("betas", {"__tuple__": [0.0, 0.0]}), r"\['betas'\] differ"),
        (_buffer("output_temperature", 0.0), "output_temperature' is not in \\[1, 1000\\]"),
        (_buffer("output_temperature", -1.0), "output_temperature' is not in"),
        (_buffer("weight_shrinkage", 5.0), "weight_shrinkage' is not in \\[0, 1\\]"),
        (_buffer("weight_anchor", -1.0), "weight_anchor' is not in"),
        (_buffer("scale_0", 0.0), "scale_0' is not positive"),
        (lambda d, t: d["fitted"].update(class_weight_="junk"), "class_weight_ is not None"),
        (
            lambda d, t: d["fitted"].update(class_weight_=_array([1.0, 1.0, 1.0], "<f8")),
            "class_weight_ is not None nor 2 finite weights",
        ),
        (
            lambda d, t: d["fitted"].update(class_weight_=_array([-1.0, 1.0], "<f8")),
            "class_weight_ is not None",
        ),
        (
            lambda d, t: d["fitted"].update(target_names_=_array(["a", "b"], "|O")),
            "target_names_ is neither None nor 2 distinct strings, one per output of a multi-label",
        ),
        (
            lambda d, t: d["fitted"].update(target_names_=_array(["a"], "|O")),
            "target_names_ is neither None",
        ),
        (
            lambda d, t: d["input_spec"].update(modality_feature_names=5),
            "column names are not one label",
        ),
        (
            lambda d, t: d["input_spec"].update(modality_feature_names={"__tuple__": [1, 2, 3]}),
            "column names are not one label",
        ),
        # text of the file's choosing in the package's warnings and errors, before
        (
            lambda d, t: d["input_spec"].update(owner="I2MoEClassifier (update: pip install x)"),
            "the input layout's owner 'I2MoEClassifier \\(update: pip install",
        ),
        (lambda d, t: d["input_spec"].update(owner=["a"]), "the input layout's owner \\['a'\\]"),
        # an extra key in a tagged value was ignored before
        (
            lambda d, t: d["fitted"]["interaction_weights_"].update(evil=1),
            r"unexpected keys \['evil'\] or missing keys \[\] in a __ndarray__ value",
        ),
        (_first_modality_named(""), "non-empty strings; got ''"),
        (_first_modality_named(1), "non-empty strings; got 1"),
        (
            lambda d, t: d["fitted"].update(
                interaction_weights_=_array([2.0, -1.0, 0.0, 0.0, 0.0], "<f4")
            ),
            r"sum to 1, each in \[0, 1\]",
        ),
        (_frozen_entry("zzz", 1), r"\(_frozen\) holds \['zzz'\]"),
        (_frozen_entry("lr", 1.0), r"\(_frozen\) holds \['lr'\]"),
        # valid alone, not together (the structured mixture needs its interaction loss)
        (lambda d, t: d["params"].update(interaction_loss_weight=0.0), "interaction_loss_weight"),
    ],
)
def test_a_file_save_could_not_have_written_is_refused(saved, edit, message):
    _rewrite(saved[0], edit)
    with pytest.raises(ModelFileError, match=message):
        load(saved[0])


def test_a_regressor_file_with_a_scale_that_is_not_finite_is_refused(tmp_path):
    X, y = _data()
    path = tmp_path / "model.i2moe"
    I2MoERegressor(**TINY).fit(X, y.astype(float)).save(path)
    _rewrite(path, lambda d, t: d["fitted"].update(_y_scale=_array([{"__float__": "nan"}], "<f8")))
    with pytest.raises(ModelFileError, match="target scaling"):
        load(path)


def test_metadata_json_cannot_raise_its_own_errors(saved):
    path, _, _ = saved
    tensors = read_tensors(path)
    with safetensors.safe_open(path, "pt") as f:
        text = f.metadata()["sk_i2moe"]
    long_number = text.replace('"batch_size_": ', '"batch_size_": ' + "1" * 5000, 1)
    assert long_number != text
    save_file(tensors, path, metadata={"sk_i2moe": long_number})
    with pytest.raises(ModelFileError, match="not valid JSON"):
        load(path)
    with pytest.raises(IsADirectoryError, match="is a directory"):
        load(path.parent)


def test_a_model_loaded_onto_another_device_continues_with_warm_start(saved):
    path, clf, X = saved
    y = clf.predict(X)
    restored = load(path, device="cpu")
    assert restored._frozen["device"] == "cpu"
    restored.set_params(warm_start=True, max_epochs=1).fit(X, y)
    assert restored.n_iter_ == clf.n_iter_ + 1


def test_a_file_cannot_ask_for_more_threads_than_the_machine_has(saved):
    path, clf, X = saved
    _rewrite(path, lambda d, t: d["params"].update(n_threads=10**12))
    with pytest.warns(UserWarning, match="n_threads=1000000000000"):
        restored = load(path)
    assert restored.n_threads == (os.cpu_count() or 1)
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))
    assert torch.get_num_threads() <= (os.cpu_count() or 1)


def test_a_files_column_names_must_be_one_label_per_column(tmp_path):
    import pandas as pd

    X, y = _data()
    table = pd.concat({k: pd.DataFrame(v) for k, v in X.items()}, axis=1)
    table.columns = [f"{m}__{f}" for m, f in table.columns]
    clf = I2MoEClassifier(**TINY).fit(table, y)
    path = tmp_path / "model.i2moe"
    clf.save(path)

    def column_of_names(document, tensors):
        names = document["input_spec"]["feature_names"]
        names["shape"] = [names["shape"][0], 1]
        document["fitted"].pop("feature_names_in_")

    _rewrite(path, column_of_names)
    # loaded before, then every prediction on a DataFrame: "unhashable type: 'numpy.ndarray'"
    with pytest.raises(ModelFileError, match="column names are not a 1-D array of 9 labels"):
        load(path)


def test_the_fits_modalities_must_select_the_files_column_groups(tmp_path):
    import pandas as pd

    X, y = _data()
    table = pd.concat({k: pd.DataFrame(v) for k, v in X.items()}, axis=1).droplevel(0, axis=1)
    table.columns = [f"c{i}" for i in range(table.shape[1])]
    groups = {"a": ["c0", "c1", "c2"], "b": ["c3", "c4", "c5"], "c": ["c6", "c7", "c8"]}
    clf = I2MoEClassifier(**TINY, modalities=groups).fit(table, y)
    path = tmp_path / "model.i2moe"
    clf.save(path)
    # the parameter changed after the fit is the caller's (it takes effect at the next fit)
    clf.set_params(modalities={"a": ["c0", "c1"], "b": ["c2", "c3", "c4", "c5"], "c": groups["c"]})
    clf.save(tmp_path / "changed.i2moe")
    restored = load(tmp_path / "changed.i2moe")
    assert restored.get_params()["modalities"]["a"] == ["c0", "c1"]
    np.testing.assert_array_equal(restored.predict_proba(table), clf.predict_proba(table))

    def other_groups(document, tensors):
        frozen = document["fitted"]["_frozen"]["__mapping__"]
        entry = next(e for e in frozen if e[0] == "modalities")
        entry[1] = document["params"]["modalities"] = {
            "__mapping__": [
                ["a", ["c0", "c1", "c6"]],
                ["b", groups["b"]],
                ["c", ["c2", "c7", "c8"]],
            ]
        }

    _rewrite(path, other_groups)
    # loaded before: get_params() said one grouping, predictions used another, and a clone
    # (a grid search's) trained on the other
    with pytest.raises(ModelFileError, match="modalities= .* selects other columns"):
        load(path)


def test_a_damaged_weight_is_refused_by_the_digest(saved):
    import json
    import struct

    path, clf, X = saved
    data = bytearray(path.read_bytes())
    header_size = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8 : 8 + header_size])
    name = next(k for k in sorted(header) if k.startswith("module.") and "weight" in k)
    start = 8 + header_size + header[name]["data_offsets"][0]
    data[start + 3] ^= 0x02  # one bit of a float32's exponent: finite, well-shaped, wrong
    damaged = path.with_name("damaged.i2moe")
    damaged.write_bytes(bytes(data))
    # loaded before, and the probabilities changed
    with pytest.raises(ModelFileError, match="corrupted: its tensors do not match the digest"):
        load(damaged)
    np.testing.assert_array_equal(load(path).predict_proba(X), clf.predict_proba(X))

    def without_digest(document, tensors):
        del document["tensor_digest"]

    _rewrite(path, without_digest)  # as files of earlier versions: loaded without the check
    np.testing.assert_array_equal(load(path).predict_proba(X), clf.predict_proba(X))


def test_a_damaged_metadata_number_is_refused_by_the_digest(tmp_path):
    import json
    import struct

    X, y = _data()
    target = y * 3.0 + 100.0
    reg = I2MoERegressor(**TINY).fit(X, target)
    path = tmp_path / "model.i2moe"
    reg.save(path)
    data = bytearray(path.read_bytes())
    header_size = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8 : 8 + header_size])
    stored = json.loads(header["__metadata__"]["sk_i2moe"])["fitted"]["_y_loc"]
    at = data.index(b".", data.index(b"_y_loc", 8, 8 + header_size)) + 1
    data[at] ^= 0x01  # a decimal of the target's mean becomes another digit: still valid JSON
    damaged = path.with_name("damaged.i2moe")
    damaged.write_bytes(bytes(data))
    changed = json.loads(json.loads(bytes(data[8 : 8 + header_size]))["__metadata__"]["sk_i2moe"])[
        "fitted"
    ]["_y_loc"]
    assert changed != stored
    # loaded before, and every prediction moved with the stored mean
    with pytest.raises(ModelFileError, match="corrupted: its metadata .* do not match"):
        load(damaged)
    np.testing.assert_array_equal(load(path).predict(X), reg.predict(X))
    # a damaged key name: the document says that a digest was written beside it
    renamed = dict(header)
    renamed["__metadata__"] = dict(header["__metadata__"])
    renamed["__metadata__"]["sk_i2moe_sha257"] = renamed["__metadata__"].pop("sk_i2moe_sha256")
    text = json.dumps(renamed, separators=(",", ":")).encode()
    damaged.write_bytes(struct.pack("<Q", len(text)) + text + bytes(data[8 + header_size :]))
    with pytest.raises(ModelFileError, match="digest of its metadata, which is missing"):
        load(damaged)

    def as_earlier_versions(document, tensors):  # neither the digest nor the flag
        del document["metadata_digest"]

    _rewrite(path, as_earlier_versions)
    np.testing.assert_array_equal(load(path).predict(X), reg.predict(X))


def test_genuine_files_with_wide_or_object_labels_still_load(tmp_path):
    X, y = _data()
    labels = np.array(["no", "yes"], dtype="<U40")[y]  # wider than its longest label
    for target in (labels, labels.astype(object)):
        clf = I2MoEClassifier(**TINY).fit(X, target)
        clf.save(tmp_path / "model.i2moe")
        restored = load(tmp_path / "model.i2moe")
        assert restored.classes_.dtype == clf.classes_.dtype
        np.testing.assert_array_equal(restored.predict(X), clf.predict(X))


def test_a_file_from_a_newer_torch_loads_its_optimizer_on_an_older_one():
    """Newer torch records ``decoupled_weight_decay=True`` in AdamW's groups; older lacks it."""
    fresh = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(2))]).state_dict()["param_groups"]
    newer = [{**fresh[0], "decoupled_weight_decay": True}]
    older = [{k: v for k, v in fresh[0].items() if k != "decoupled_weight_decay"}]
    assert check_optimizer_groups(newer, older, "m") == older
    with pytest.raises(ModelFileError, match="not those of AdamW"):  # not what an AdamW has
        check_optimizer_groups([{**newer[0], "decoupled_weight_decay": False}], older, "m")
    with pytest.raises(ModelFileError, match="not those of AdamW"):  # unknown: still refused
        check_optimizer_groups([{**newer[0], "amsgrad2": True}], older, "m")


def test_a_regressor_file_with_class_weights_is_refused(tmp_path):
    X, y = _data()
    path = tmp_path / "model.i2moe"
    I2MoERegressor(**TINY).fit(X, y.astype(float)).save(path)
    _rewrite(path, lambda d, t: d["fitted"].update(class_weight_=_array([1.0], "<f8")))
    with pytest.raises(ModelFileError, match="gives a regressor class weights"):
        load(path)


def test_column_positions_that_are_not_integers_are_refused(tmp_path):
    X, y = _data()
    table = np.column_stack(list(X.values()))
    path = tmp_path / "model.i2moe"
    modalities = {"a": [0, 1, 2], "b": [3, 4], "c": [5, 6, 7, 8]}
    I2MoEClassifier(**TINY, modalities=modalities).fit(table, y).save(path)
    nan = {"__float__": "nan"}
    for first in ([0.0, 1.0, 2.0], ["0", "1", "2"], [nan, 1.0, 2.0], [{"__float__": "inf"}, 1, 2]):
        dtype = "<U1" if isinstance(first[0], str) else "<f8"

        def edit(document, tensors, first=first, dtype=dtype):
            document["input_spec"]["columns"]["__tuple__"][0] = _array(first, dtype)

        _rewrite(path, edit)
        with pytest.raises(ModelFileError, match="integer positions"):
            load(path)


@pytest.mark.skipif(
    hasattr(torch, "xpu") and torch.xpu.is_available(), reason="needs a machine without XPU"
)
def test_a_model_marked_for_an_absent_accelerator_says_to_load_it_on_the_cpu(saved):
    path, clf, X = saved
    _rewrite(path, lambda d, t: d["params"].update(device="xpu"))
    with pytest.raises(ModelFileError, match=r"XPU is not available.*load\(path, device='cpu'\)"):
        load(path)
    np.testing.assert_array_equal(load(path, device="cpu").predict_proba(X), clf.predict_proba(X))


def test_parameters_the_network_refuses_are_not_blamed_on_the_device(saved):
    path, _, _ = saved
    _rewrite(path, lambda d, t: d["params"].update(fusion_kwargs={"__mapping__": [["evil", 1]]}))
    with pytest.raises(ModelFileError, match="do not describe a network .*'evil'") as info:
        load(path, device="cpu")
    assert "device=" not in str(info.value)


def test_a_bad_device_argument_is_the_callers_error_not_the_files(saved):
    path, _, _ = saved
    with pytest.raises(TypeError, match=r"load\(device=5\)"):
        load(path, device=5)
    with pytest.raises(ValueError, match="'bogus' is not a valid torch device") as info:
        load(path, device="bogus")
    assert not isinstance(info.value, ModelFileError)


def test_save_refuses_string_arrays_that_load_would_refuse(tmp_path, monkeypatch):
    monkeypatch.setattr(_file_checks, "_STRING_BYTES_FLOOR", 0)
    monkeypatch.setattr(_file_checks, "_STRING_BYTES_PER_METADATA_BYTE", 1)
    X, y = _data()
    labels = np.array(["no", "yes"], dtype="<U100000")[y]  # 800 kB of classes_
    clf = I2MoEClassifier(**TINY).fit(X, labels)
    with pytest.raises(ValueError, match=r"string arrays would take 800,000 bytes.*y\.astype"):
        clf.save(tmp_path / "model.i2moe")
    assert not (tmp_path / "model.i2moe").exists()
    clf.fit(X, labels.astype("<U3")).save(tmp_path / "model.i2moe")  # as wide as its labels
    assert load(tmp_path / "model.i2moe").classes_.dtype == np.dtype("<U3")


def test_parameters_valid_alone_but_not_together_are_refused(tmp_path):
    # the paper's mixture replaces each modality in turn, undefined for one dropped as absent:
    # fit refuses modality_dropout with it, and so do save and load
    X, y = _data()
    path = tmp_path / "model.i2moe"
    I2MoEClassifier(**TINY, interaction_constraint="loss").fit(X, y).save(path)
    _rewrite(path, lambda d, t: d["params"].update(modality_dropout=0.2))
    # written by this version: edited since, not a newer version's parameters
    with pytest.raises(ModelFileError, match="modality_dropout.*edited or damaged after it was"):
        load(path)
    _rewrite(path, lambda d, t: d.update(package_version="99.0"))
    with pytest.raises(ModelFileError, match="written by sk_i2moe '99.0' .* a newer version"):
        load(path)
