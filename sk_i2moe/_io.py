"""Save and load fitted estimators without pickle; export them to ONNX.

A model file is one `safetensors <https://huggingface.co/docs/safetensors>`_
file: the network's weights as tensors, and in the file's metadata one JSON
document (under the key ``"sk_i2moe"``, with its SHA-256 under
``"sk_i2moe_sha256"``) with everything else: the format
version, the versions of the package and of torch, the estimator's class
(one of a fixed list), its parameters and its fitted state (modality layout
and feature names, classes, target scaling, history, ...). Reading it parses
JSON and copies tensors; nothing in the file is executed and nothing is
unpickled. Values JSON cannot hold natively (tuples, slices, arrays,
mappings with non-string keys) are written as small tagged objects, each
decoded by a fixed rule.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from skorch.history import History

from . import _file_checks
from ._device import check_default_dtype, resolve_device
from ._warn import warn
from .nn.custom import VmappedFusion
from .nn.ensemble import mixtures_of

#: the file format this package writes and reads
FORMAT_VERSION = 1
_META_KEY = "sk_i2moe"
#: the safetensors metadata key of the SHA-256 of the metadata text (absent in older files)
_META_DIGEST_KEY = "sk_i2moe_sha256"
_MODULE_PREFIX = "module."
#: safetensors refuses a file whose header (tensor index and metadata, as JSON) is larger
HEADER_LIMIT = 100_000_000
#: the longest name safetensors gives a dtype in that header
_LONGEST_DTYPE = "F8_E4M3FNUZ"
#: the parts of a model file's metadata, as a refusal names them
_HEADER_PARTS = {
    "params": "the parameters",
    "fitted": "the fitted attributes",
    "input_spec": "the input layout",
    "history": "the training history",
    "optimizer": "the optimizer's settings",
}
_OPTIMIZER_PREFIX = "optimizer."
#: the ONNX graph's second output: every row's interaction weights, one column per expert
WEIGHTS_OUTPUT = "interaction_weights"
# fitted attributes written to the file, by estimator; anything else is rebuilt
_FITTED = {
    "I2MoEClassifier": ("classes_", "_multilabel"),
    "I2MoERegressor": ("_y_ndim", "_y_loc", "_y_scale"),
}
_COMMON_FITTED = (
    "batch_size_",
    "n_iter_",
    "modalities_",
    "n_features_in_",
    "expert_names_",
    "interaction_weights_",
    "_frozen",
)
# written when the estimator has them (files of earlier versions may lack them)
_OPTIONAL_FITTED = (
    "feature_names_in_",
    "validation_loss_",
    "n_reweight_steps_",
    "n_members_",
    "class_weight_",
    "target_names_",
)
# parameters that hold code or live state: not written, restored as None
_NOT_SAVED = ("callbacks",)
_ARRAY_KINDS = {"b", "i", "u", "f", "U", "O"}


class ModelFileError(ValueError):
    """A model file that cannot be read: corrupted, truncated, inconsistent or incompatible."""


def _encode(value: object, where: str) -> object:
    """JSON-ready form of ``value`` (tagged objects for what JSON lacks)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return _encode_float(float(value))
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, torch.device):
        return str(value)
    if isinstance(value, slice):
        return {"__slice__": [_encode(v, where) for v in (value.start, value.stop, value.step)]}
    if isinstance(value, (range, pd.Index)):  # column selectors: fit reads them as arrays
        value = np.asarray(value)
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in _ARRAY_KINDS:
            raise TypeError(f"{where}: arrays of dtype {value.dtype} cannot be saved")
        items = [_encode(v, where) for v in value.ravel().tolist()]
        return {"__ndarray__": items, "dtype": value.dtype.str, "shape": list(value.shape)}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, where) for v in value]}
    if isinstance(value, list):
        return [_encode(v, where) for v in value]
    if isinstance(value, Mapping):
        return {"__mapping__": [[_encode(k, where), _encode(v, where)] for k, v in value.items()]}
    raise TypeError(f"{where}: a {type(value).__name__} cannot be saved as data")


def _encode_float(value: float) -> object:
    if math.isfinite(value):
        return value
    return {"__float__": repr(value)}  # nan, inf, -inf: not valid JSON numbers


#: each tagged value's keys, exactly (save writes no other)
_TAG_KEYS = {
    "__slice__": {"__slice__"},
    "__tuple__": {"__tuple__"},
    "__mapping__": {"__mapping__"},
    "__float__": {"__float__"},
    "__ndarray__": {"__ndarray__", "dtype", "shape"},
}


def _decode(value: object) -> object:
    """Inverse of :func:`_encode`."""
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    tag = next((key for key in _TAG_KEYS if key in value), None)
    if tag is not None and set(value) != _TAG_KEYS[tag]:
        raise ModelFileError(
            f"unexpected keys {sorted(set(value) - _TAG_KEYS[tag])} or missing keys "
            f"{sorted(_TAG_KEYS[tag] - set(value))} in a {tag} value of the metadata"
        )
    if "__slice__" in value:
        return slice(*(_decode(v) for v in value["__slice__"]))
    if "__tuple__" in value:
        return tuple(_decode(v) for v in value["__tuple__"])
    if "__mapping__" in value:
        return {_hashable(_decode(k)): _decode(v) for k, v in value["__mapping__"]}
    if "__float__" in value:
        text = value["__float__"]
        if text not in ("nan", "inf", "-inf"):
            raise ModelFileError(f"unexpected float {text!r} in the metadata")
        return float(text)
    if "__ndarray__" in value:
        # save writes dtype.str; the memory of string arrays is bounded before decoding
        # (_file_checks.string_array_excess)
        dtype = np.dtype(value["dtype"]) if isinstance(value["dtype"], str) else None
        if dtype is None or dtype.kind not in _ARRAY_KINDS:
            raise ModelFileError(f"unexpected array dtype {value['dtype']!r} in the metadata")
        items = [_decode(v) for v in value["__ndarray__"]]
        if dtype.kind != "O":
            return np.asarray(items, dtype=dtype).reshape(value["shape"])
        out = np.empty(len(items), dtype=object)  # element by element: no nesting inferred
        for i, item in enumerate(items):
            out[i] = item
        return out.reshape(value["shape"])
    raise ModelFileError(f"unexpected object with keys {sorted(value)} in the metadata")


def _hashable(key: object) -> object:
    return tuple(key) if isinstance(key, list) else key


def _history_records(history: object) -> list[dict]:
    """``history_`` as JSON-ready epoch records; non-finite numbers tagged as ``__float__``.

    Raises
    ------
    ValueError
        For an entry that is not data (a tensor a callback recorded, say),
        naming it and its epoch, with the remedy.
    """
    records = []
    for epoch, record in enumerate(history, start=1):
        entry = {}
        for key, value in record.items():
            try:
                entry[key] = _history_value(value)
            except TypeError as err:
                raise ValueError(
                    f"Cannot save the model: the training history's {key!r} of epoch {epoch} "
                    f"{err}. Record plain numbers in callbacks (e.g. float(x)), or delete the "
                    "entry from each epoch of history_ before saving."
                ) from None
        records.append(entry)
    return records


def _history_value(value: object) -> object:
    """One history entry as JSON: numbers, strings, and lists and mappings of them."""
    if isinstance(value, np.generic) and value.dtype.kind in "biuf":
        value = value.item()
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return _encode_float(value)
    if isinstance(value, np.ndarray):
        return _history_value(value.tolist())
    if isinstance(value, (list, tuple)):
        return [_history_value(v) for v in value]
    if isinstance(value, Mapping) and all(
        k is None or isinstance(k, (bool, int, float, str)) for k in value
    ):
        return {k: _history_value(v) for k, v in value.items()}
    raise TypeError(f"is a {type(value).__name__}, which a model file cannot hold")


def _decoded_history(value: object) -> object:
    """Inverse of :func:`_history_value`: ``{"__float__": "nan"}`` back to a float."""
    if isinstance(value, list):
        return [_decoded_history(v) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"__float__"}:
        return _decode(value)
    return {k: _decoded_history(v) for k, v in value.items()}


def _saved_params(estimator: object) -> dict:
    params = estimator.get_params(deep=False)
    if callable(params.get("fusion")):
        raise ValueError(
            f"Cannot save a model with a custom fusion backbone ({params['fusion']!r}): a file "
            "holds data, not code, and the backbone's code is needed to rebuild the network. "
            "Use a built-in fusion (see sk_i2moe.nn.FUSIONS), or pickle the estimator if the "
            "file stays with you."
        )
    # written as None whatever they hold; a warning where that loses something
    dropped = [name for name in _NOT_SAVED if params.get(name)]
    if isinstance(params.get("random_state"), np.random.RandomState):
        dropped.append("random_state")
    if dropped:
        warn(
            f"Parameters {dropped} are not saved (callbacks are code, a RandomState instance "
            "is live state); the loaded estimator has them set to None.",
            UserWarning,
        )
    for name in (*_NOT_SAVED, *dropped):
        if name in params:
            params[name] = None
    return params


def _encoded(values: dict, what: str) -> dict:
    out = {}
    for name, value in values.items():
        try:
            out[name] = _encode(value, f"{what} {name!r}")
        except TypeError as err:
            raise ValueError(f"Cannot save the model: {err}.") from None
    return out


#: what a model file keeps of column labels (``_file_checks.column_labels`` checks it)
_LABELS_KEPT = "A model file keeps column names that are strings, numbers, None or tuples of them"


def _spec_state(spec: object) -> dict:
    """The input layout as ``save`` writes it; a ``ValueError`` for a table's unwritable labels.

    A dict modality's labels that a file cannot keep are left out, with a
    warning (:func:`_writable_labels`).
    """
    names = spec.feature_names
    if names is not None and not _file_checks.column_labels(names, spec.n_columns):
        raise ValueError(
            f"Cannot save the model: the table's column names {list(names)[:3]} ... are not "
            f"all labels a file keeps. {_LABELS_KEPT} (not nested): rename the columns (e.g. "
            "X.columns = X.columns.astype(str)) and fit again."
        )
    per_modality = spec.modality_feature_names
    if per_modality is not None:
        kept = tuple(map(_writable_labels, per_modality))
        lost = [n for n, a, b in zip(spec.names, per_modality, kept) if a is not None and b is None]
        if lost:
            warn(
                f"The column labels of modalities {lost[:5]} are not written to the file ("
                f"{_LABELS_KEPT}): the loaded model checks those modalities' columns by their "
                "number only, not their names or order. Name the columns with strings (e.g. "
                "df.columns = df.columns.astype(str)) and fit again to keep the check.",
                UserWarning,
            )
        per_modality = kept
    return {
        "names": spec.names,
        "n_features": spec.n_features,
        "columns": spec.columns,
        "feature_names": spec.feature_names,
        "n_columns": spec.n_columns,
        "owner": spec.owner,
        "modality_feature_names": per_modality,
    }


def _writable_labels(labels: np.ndarray | None) -> np.ndarray | None:
    """A dict modality's column labels where a file can keep them, else None.

    Labels without a JSON form (dates, periods, ``pd.NA``, nested tuples)
    are left out: the loaded model then checks that modality's columns by
    count, as files written before the labels were kept do.
    """
    if labels is None or not _file_checks.column_labels(labels, len(labels)):
        return None
    return labels


def save(estimator: object, path: str | os.PathLike, *, optimizer: bool = True) -> None:
    """Write a fitted estimator to ``path`` (weights as safetensors, the rest as JSON).

    Parameters
    ----------
    estimator : I2MoEClassifier or I2MoERegressor
        A fitted estimator.
    path : str or path-like
        File to write (conventionally ``*.i2moe``); overwritten if it exists.
    optimizer : bool, default=True
        Also write the optimizer's state (see ``I2MoEBase.save``).

    Raises
    ------
    ValueError
        For a custom (callable) fusion backbone, or a parameter or fitted value
        that cannot be written as data (named in the message), or metadata
        beyond the 100 MB safetensors allows in a file's header (a long
        per-batch training history, say; the message gives the remedy).
    """
    from safetensors.torch import save_file
    from sklearn.utils.validation import check_is_fitted

    from . import __version__

    check_is_fitted(estimator, "net_")
    name = type(estimator).__name__
    if name not in _FITTED:
        raise TypeError(f"save() supports {sorted(_FITTED)}; got {name}.")
    fitted = {k: getattr(estimator, k) for k in (*_COMMON_FITTED, *_FITTED[name])}
    if isinstance(fitted["_frozen"], dict):
        fitted["_frozen"] = {
            k: (None if k in _NOT_SAVED else v) for k, v in fitted["_frozen"].items()
        }
    fitted.update({k: getattr(estimator, k) for k in _OPTIONAL_FITTED if hasattr(estimator, k)})
    document = {
        "format": FORMAT_VERSION,
        "package_version": __version__,
        "torch_version": str(torch.__version__),
        "estimator": name,
        "params": _encoded(_saved_params(estimator), "parameter"),
        "fitted": _encoded(fitted, "fitted attribute"),
        "input_spec": _encoded(_spec_state(estimator._input_spec), "input layout"),
        "history": _history_records(estimator.history_),
    }
    module = estimator._module()
    tensors = {
        _MODULE_PREFIX + k: v.detach().to("cpu").contiguous().clone()
        for k, v in module.state_dict().items()
    }
    if optimizer:
        groups, optimizer_tensors = _optimizer_state(estimator.net_.optimizer_)
        document["optimizer"] = groups
        tensors.update(optimizer_tensors)
    document["tensor_digest"] = _tensor_digest(tensors)
    # says that the text's own digest sits beside it: a damaged key name is then noticed
    document["metadata_digest"] = _META_DIGEST_KEY
    text = json.dumps(document, allow_nan=False)  # non-finite numbers are tagged
    excess = _file_checks.string_array_excess(document, len(text))
    if excess is not None:
        raise ValueError(
            f"Cannot save the model: {excess}, so load() would refuse the file. Give string "
            "labels or selectors at the width of their longest string (or as objects, e.g. "
            "y.astype(object)) and fit again."
        )
    metadata = {_META_KEY: text, _META_DIGEST_KEY: _text_digest(text)}
    _refuse_a_header_too_large(document, metadata, tensors)
    save_file(tensors, os.fspath(path), metadata=metadata)


def _refuse_a_header_too_large(
    document: dict, metadata: dict[str, str], tensors: dict[str, torch.Tensor]
) -> None:
    """A ``ValueError`` where safetensors would refuse the file's header, naming its bulk.

    The header holds the metadata (ASCII JSON: ``json.dumps`` escapes the
    rest) and one entry (dtype, shape, offsets) per tensor, in an order of
    safetensors' own; the estimate is an upper bound: every offset counted at
    the width of the largest, every dtype at the longest name.
    """
    compact = {"separators": (",", ":")}  # as safetensors writes it
    total = sum(t.numel() * t.element_size() for t in tensors.values())
    entries = sum(
        len(
            json.dumps(
                {k: {"dtype": _LONGEST_DTYPE, "shape": [*t.shape], "data_offsets": [total] * 2}},
                **compact,
            )
        )
        for k, t in tensors.items()
    )
    size = len(json.dumps({"__metadata__": metadata}, **compact)) + entries
    if size <= HEADER_LIMIT:
        return
    parts = {key: len(json.dumps(document[key])) for key in _HEADER_PARTS if key in document}
    largest = max(parts, key=parts.__getitem__)
    share = f"{_HEADER_PARTS[largest]} ({parts[largest] / 1e6:.3g} MB) is its largest part"
    if largest == "history":
        epochs = len(document["history"])
        records = sum(len(epoch.get("batches", ())) for epoch in document["history"])
        remedy = f"{share}: {epochs} epoch{'s' * (epochs != 1)}, {records} per-batch records. " + (
            "Drop the per-batch records before saving (the per-epoch ones are kept): for "
            "epoch in est.history_: epoch['batches'] = []"
            if records
            else "Delete the entries callbacks recorded in each epoch of history_ before saving."
        )
    else:
        remedy = (
            f"{share}. Column names are written in the parameters, the fitted attributes and "
            "the input layout each: many long ones make all three large; shorter names (or "
            "arrays with modalities selected by position) make them smaller."
        )
    raise ValueError(
        f"Cannot save the model: its metadata would take about {size / 1e6:.3g} MB of the "
        f"file's header, which safetensors limits to {HEADER_LIMIT / 1e6:.3g} MB; {remedy}"
    )


def _optimizer_state(optimizer: torch.optim.Optimizer) -> tuple[dict, dict[str, torch.Tensor]]:
    """The optimizer's state as JSON-ready metadata and tensors named ``optimizer.<i>.<key>``.

    Its per-parameter state (Adam's step counts and moment estimates) are
    tensors; its parameter groups (learning rate, betas, ...) are data.
    """
    state = optimizer.state_dict()
    tensors = {}
    for index, entries in state["state"].items():
        for key, value in entries.items():
            if not isinstance(value, torch.Tensor):
                raise ValueError(
                    f"Cannot save the model: the optimizer's {key!r} of parameter {index} is a "
                    f"{type(value).__name__}, not a tensor. Pass optimizer=False to save "
                    "without the optimizer's state."
                )
            tensors[f"{_OPTIMIZER_PREFIX}{index}.{key}"] = value.detach().to("cpu").contiguous()
    return _encoded({"param_groups": state["param_groups"]}, "optimizer"), tensors


def check_weights(
    saved: Mapping[str, torch.Tensor],
    expected: Mapping[str, torch.Tensor],
    optional: tuple[str, ...] = (),
) -> None:
    """Check a file's weights against the state of the network they are for.

    Parameters
    ----------
    saved : mapping of str to Tensor
        The weights read from the file, by name.
    expected : mapping of str to Tensor
        The network's state (e.g. built on the ``meta`` device: shapes and
        dtypes only).
    optional : tuple of str
        Name endings of expected entries a file may lack (buffers that older
        versions did not write).

    Raises
    ------
    RuntimeError
        When a name is missing or unexpected, a shape or dtype differs, or a
        floating tensor holds NaN or infinite values (no fit writes those).
    """
    missing = [k for k in expected if k not in saved and not k.endswith(optional)]
    unexpected = [k for k in saved if k not in expected]
    if missing or unexpected:
        raise RuntimeError(f"missing {missing[:5]}, unexpected {unexpected[:5]}")
    for name, value in saved.items():
        want = expected[name]
        if value.shape != want.shape or value.dtype != want.dtype:
            raise RuntimeError(
                f"{name!r} is {value.dtype} of shape {tuple(value.shape)}; the network holds "
                f"{want.dtype} of shape {tuple(want.shape)}"
            )
        if value.is_floating_point() and not torch.isfinite(value).all():
            raise RuntimeError(f"{name!r} holds NaN or infinite values")


def _restore_optimizer(
    estimator: object, saved: dict | None, tensors: dict[str, torch.Tensor], path: str
) -> None:
    """Load the saved optimizer state into the rebuilt net's optimizer."""
    if saved is None:  # written without it (save(optimizer=False), older files): a fresh one
        return
    params = [p for group in estimator.net_.optimizer_.param_groups for p in group["params"]]
    state: dict[int, dict[str, torch.Tensor]] = {}
    for name, value in tensors.items():
        index, _, key = name[len(_OPTIMIZER_PREFIX) :].partition(".")
        if not index.isdigit() or not key or int(index) >= len(params):
            raise ModelFileError(f"{path!r} has an unexpected optimizer tensor {name!r}.")
        # the step count is one number; every other state tensor is one per parameter entry
        shape = () if key == "step" else params[int(index)].shape
        if value.numel() != math.prod(shape) or (key != "step" and value.shape != shape):
            raise ModelFileError(
                f"The optimizer tensor {name!r} in {path!r} has shape {tuple(value.shape)}; "
                f"its parameter needs {tuple(shape)}."
            )
        _file_checks.check_optimizer_state(name, key, value, path)
        state.setdefault(int(index), {})[key] = value
    optimizer = estimator.net_.optimizer_
    try:
        groups = _decode(saved["param_groups"])
    except (KeyError, TypeError, ValueError, OverflowError, RecursionError, MemoryError) as err:
        raise ModelFileError(
            f"The optimizer state in {path!r} is malformed ({str(err).splitlines()[0]})."
        ) from None
    # the optimizer was built with the weight decay of the fit that built the network (a
    # parameter that may have changed since, with set_params, without a new fit)
    decay = estimator._frozen.get("weight_decay", estimator.weight_decay)
    fresh = [{**group, "weight_decay": decay} for group in optimizer.state_dict()["param_groups"]]
    groups = _file_checks.check_optimizer_groups(groups, fresh, path)
    try:
        optimizer.load_state_dict({"state": state, "param_groups": groups})
    except (KeyError, TypeError, ValueError) as err:
        raise ModelFileError(
            f"The optimizer state in {path!r} does not match the network's parameters "
            f"({str(err).splitlines()[0]})."
        ) from None


def _tensor_digest(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 of the tensors' names, dtypes, shapes and bytes, in name order.

    ``save`` records it and ``load`` compares it: damage to the weights that
    leaves them finite and well-shaped (a flipped bit) is caught. Not a
    signature: whoever edits a file can write a new digest.
    """
    digest = hashlib.sha256()
    for name in sorted(tensors):
        tensor = tensors[name].detach().to("cpu").contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()


def _text_digest(text: str) -> str:
    """SHA-256 of the metadata text ``save`` writes (it holds the tensors' digest too).

    ``load`` compares it before reading the text: damage to the metadata that
    leaves it valid JSON (a flipped bit turning one digit of a stored number
    into another) is caught. Not a signature, as :func:`_tensor_digest`.
    """
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _check_digest(document: dict, tensors: dict[str, torch.Tensor], path: str) -> None:
    """Refuse tensors whose digest is not the one ``save`` recorded (files without one pass)."""
    if "tensor_digest" not in document:
        return  # written before save() recorded a digest
    recorded = document["tensor_digest"]
    if not isinstance(recorded, str) or recorded != _tensor_digest(tensors):
        raise _corrupted(path, "its tensors do not match the digest save() recorded")


def _corrupted(path: str, what: str) -> ModelFileError:
    """The error for a file whose digests say it was changed since ``save`` wrote it."""
    return ModelFileError(
        f"{path!r} is corrupted: {what} (damaged in storage or transfer, or edited). Use an "
        "intact copy, or refit."
    )


def _read(path: str | os.PathLike) -> tuple[dict, dict[str, torch.Tensor]]:
    from safetensors import SafetensorError, safe_open

    if Path(path).is_dir():
        raise IsADirectoryError(f"{os.fspath(path)!r} is a directory, not a model file.")
    if not Path(path).is_file():
        raise FileNotFoundError(f"No model file at {os.fspath(path)!r}.")
    try:
        with safe_open(os.fspath(path), framework="pt", device="cpu") as f:
            metadata = f.metadata() or {}
            # copies: safetensors maps the file into memory, and tensors kept as they are (the
            # optimizer's state: load_state_dict keeps CPU float tensors) would change when the
            # file is overwritten in place, or crash the process (SIGBUS) when it is truncated
            tensors = {k: f.get_tensor(k).clone() for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as err:
        raise ModelFileError(
            f"{os.fspath(path)!r} is not a readable sk_i2moe model file (truncated, corrupted "
            f"or another format): {err}"
        ) from None
    if _META_KEY not in metadata:
        raise ModelFileError(
            f"{os.fspath(path)!r} is a safetensors file without sk_i2moe metadata; it was not "
            "written by sk_i2moe's save()."
        )
    if _META_DIGEST_KEY in metadata and metadata[_META_DIGEST_KEY] != _text_digest(
        metadata[_META_KEY]
    ):  # files written before save() recorded this digest have none
        raise _corrupted(
            os.fspath(path),
            "its metadata (parameters, fitted values, input layout) do not match the digest "
            "save() recorded",
        )
    try:
        document = json.loads(metadata[_META_KEY])
    except (ValueError, RecursionError) as err:  # ValueError: e.g. integers of 4,300+ digits
        raise ModelFileError(
            f"The metadata of {os.fspath(path)!r} is not valid JSON: {err!r}"
        ) from None
    if not isinstance(document, dict):
        raise ModelFileError(
            f"The metadata of {os.fspath(path)!r} is a JSON {type(document).__name__}, not "
            "the object save() writes."
        )
    if "metadata_digest" in document and _META_DIGEST_KEY not in metadata:
        raise _corrupted(
            os.fspath(path), "save() recorded a digest of its metadata, which is missing"
        )
    _file_checks.check_string_arrays(document, len(metadata[_META_KEY]), os.fspath(path))
    return document, tensors


def load(
    path: str | os.PathLike,
    *,
    device: str | torch.device | None = None,
    compile: bool = False,
) -> object:
    """Read a fitted estimator written by ``save``; nothing in the file is executed.

    Parameters
    ----------
    path : str or path-like
        A file written by :meth:`I2MoEClassifier.save <sk_i2moe.I2MoEClassifier.save>`
        or :meth:`I2MoERegressor.save <sk_i2moe.I2MoERegressor.save>`.
    device : str or torch.device, optional
        Where to put the network (sets the estimator's ``device``
        parameter). None keeps the saved ``device`` parameter (``"auto"``
        loads a model trained on a GPU onto the CPU of a machine without
        one).
    compile : bool, default=False
        Compile the loaded network with :func:`torch.compile` (sets the
        estimator's ``compile`` parameter). The saved ``compile`` parameter
        is not used: whether to run the compiler (code generation, a C++
        toolchain, a long first prediction) is the reading machine's choice,
        not the file's.

    Returns
    -------
    I2MoEClassifier or I2MoERegressor
        The fitted estimator; its predictions equal the saved model's
        bitwise on the same device, and a ``warm_start`` fit continues with
        the saved optimizer state (as it would have without saving).
        ``callbacks`` (code) are not saved.

    Raises
    ------
    ValueError
        (:class:`ModelFileError`) for a truncated or corrupted file, a file
        of another format or of an incompatible format version, or metadata
        that does not match the tensors or disagrees with itself (see
        :ref:`model_files`). A plain ``ValueError`` for a ``device`` that
        is not available here.
    TypeError
        For a ``device`` that is not a string or a :class:`torch.device`,
        or a ``compile`` that is not a bool.
    IsADirectoryError, FileNotFoundError
        When ``path`` is a directory or does not exist.

    Warns
    -----
    UserWarning
        When the file asks for more ``n_threads`` than this machine has CPUs
        (the loaded estimator uses the CPU count).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> from sk_i2moe import I2MoEClassifier, load
    >>> from sk_i2moe.datasets import load_breast_cancer_views
    >>> X, y = load_breast_cancer_views()
    >>> clf = I2MoEClassifier(max_epochs=2, hidden_dim=8, random_state=0).fit(X, y)
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "model.i2moe"
    >>> clf.save(path)
    >>> restored = load(path)
    >>> bool((restored.predict_proba(X) == clf.predict_proba(X)).all())
    True
    """
    from . import __version__
    from ._modalities import ModalitySpec
    from .classifier import I2MoEClassifier
    from .regressor import I2MoERegressor

    check_default_dtype()
    if device is not None:
        if not isinstance(device, (str, torch.device)):
            raise TypeError(
                f"load(device={device!r}): device must be a string such as 'cpu', 'cuda' or "
                "'auto', or a torch.device."
            )
        resolve_device(device)  # the caller's device: a ValueError naming it, before reading
    if not isinstance(compile, bool):
        raise TypeError(f"load(compile={compile!r}): compile must be True or False.")
    document, tensors = _read(path)
    fmt = document.get("format")
    if type(fmt) is not int or fmt != FORMAT_VERSION:
        raise ModelFileError(
            f"{os.fspath(path)!r} has model format {fmt!r} (written by sk_i2moe "
            f"{document.get('package_version')!r}); this version of sk_i2moe reads format "
            f"{FORMAT_VERSION}. Load it with the version that wrote it, or refit."
        )
    _check_digest(document, tensors, os.fspath(path))
    classes: dict[str, Callable] = {
        "I2MoEClassifier": I2MoEClassifier,
        "I2MoERegressor": I2MoERegressor,
    }
    name = document.get("estimator")
    if name not in classes:
        raise ModelFileError(f"{os.fspath(path)!r} names an unknown estimator {name!r}.")
    try:
        params = {k: _decode(v) for k, v in document["params"].items()}
        fitted = {k: _decode(v) for k, v in document["fitted"].items()}
        spec = ModalitySpec(**{k: _decode(v) for k, v in document["input_spec"].items()})
        records = _decoded_history(document["history"])
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise TypeError("the history is not a list of epoch records")
        history = History(records)
    except (
        KeyError,
        TypeError,
        ValueError,
        AttributeError,
        OverflowError,
        RecursionError,
        MemoryError,
    ) as err:
        raise ModelFileError(
            f"The metadata of {os.fspath(path)!r} is incomplete or malformed ({err!r})."
        ) from None
    # code and live state are never written: a file holding them was not written by save()
    written = [k for k in _NOT_SAVED if params.get(k) is not None]
    if written:
        raise ModelFileError(
            f"{os.fspath(path)!r} holds {written[0]!r}, which save() never writes (it is code); "
            "the file was not written by sk_i2moe."
        )
    if device is not None:
        params["device"] = device
    # running the compiler is the reading machine's choice, not the file's (as n_threads)
    params["compile"] = compile
    if "n_threads" in params:
        params["n_threads"] = _file_checks.bounded_threads(params["n_threads"], os.fspath(path))
    # files written before weight_shrinkage existed predict with the weights as trained
    params.setdefault("weight_shrinkage", 0.0)
    # files written before missing_modality_loss_weight existed were trained with weight 1
    params.setdefault("missing_modality_loss_weight", 1.0)
    # files written before redundancy existed hold a weighted-mean redundancy expert
    params.setdefault("redundancy", "weighted_mean")
    # and files written before absence offsets existed have none
    params.setdefault("absence_offset", False)
    try:
        estimator = classes[name](**params)
        estimator._validate_params()
        estimator._check_combinations()  # as fit and save: values valid alone, not together
    except (TypeError, ValueError) as err:
        written = document.get("package_version")
        advice = (
            "the file was written by this version, so it was edited or damaged after it was "
            "saved: refit, or save the model again"
            if written == __version__
            else f"the file was written by sk_i2moe {written!r} and this is {__version__!r}: a "
            "newer version may have parameters this one lacks. Load it with the version that "
            "wrote it (or a newer one), or refit"
        )
        raise ModelFileError(
            f"The parameters stored in {os.fspath(path)!r} are not valid for {name} here "
            f"({err}); {advice}."
        ) from None
    expected = {*_COMMON_FITTED, *_FITTED[name]}
    if not expected <= set(fitted):
        raise ModelFileError(
            f"The metadata of {os.fspath(path)!r} lacks fitted attributes "
            f"{sorted(expected - set(fitted))}."
        )
    unknown = set(fitted) - expected - set(_OPTIONAL_FITTED)
    if unknown:
        raise ModelFileError(
            f"The metadata of {os.fspath(path)!r} sets attributes {sorted(unknown)[:5]} that "
            "save() never writes; the file was not written by sk_i2moe."
        )
    estimator.validation_loss_ = None  # unless the file records it
    estimator.n_reweight_steps_ = 0  # files of earlier versions: the weights were not refined
    estimator.n_members_ = estimator.n_members  # files of earlier versions: an integer
    estimator.target_names_ = None  # files of earlier versions: outputs named by position
    for key, value in fitted.items():
        setattr(estimator, key, value)
    if not isinstance(estimator.n_members_, int):
        raise ModelFileError(
            f"The metadata of {os.fspath(path)!r} has n_members={estimator.n_members!r} but "
            "not the number of members the fit resolved it to (n_members_)."
        )
    if not isinstance(estimator._frozen, dict):
        raise ModelFileError(f"The metadata of {os.fspath(path)!r} has no fitted parameters.")
    if "callbacks" in estimator._frozen:
        estimator._frozen["callbacks"] = estimator.callbacks
    if device is not None and "device" in estimator._frozen:
        estimator._frozen["device"] = device  # the network is rebuilt there
    if "compile" in estimator._frozen:
        estimator._frozen["compile"] = compile  # ... and compiled as asked
    estimator._input_spec = spec
    _file_checks.check_layout(
        spec,
        estimator.modalities_,
        estimator.n_features_in_,
        os.fspath(path),
        owner=name,
        selected_by=estimator._frozen.get("modalities"),
    )
    stray = [k for k in tensors if not k.startswith((_MODULE_PREFIX, _OPTIMIZER_PREFIX))]
    if stray:
        raise ModelFileError(
            f"{os.fspath(path)!r} holds tensors {stray[:5]} that save() never writes; the file "
            "was not written by sk_i2moe."
        )
    module_state = {
        k[len(_MODULE_PREFIX) :]: v for k, v in tensors.items() if k.startswith(_MODULE_PREFIX)
    }
    optimizer_tensors = {k: v for k, v in tensors.items() if k.startswith(_OPTIMIZER_PREFIX)}
    _file_checks.check_build_size(params, fitted, len(module_state), os.fspath(path))
    _file_checks.check_buffers(module_state, os.fspath(path))
    try:
        resolve_device(estimator.device)
    except ValueError as err:  # the file's device, which this machine lacks
        raise ModelFileError(
            f"Cannot place the model from {os.fspath(path)!r} here: {err} Pass "
            "load(path, device='cpu') to load it on the CPU."
        ) from None
    try:
        estimator._restore_net(module_state, history)
    except (RuntimeError, TypeError) as err:  # weights not the network's; bad module options
        hint = (
            ""
            if estimator.device in ("auto", "cpu")
            else f" (if device={estimator.device!r} is not available here, pass load(path, "
            "device='cpu'))"
        )
        raise ModelFileError(
            f"The weights in {os.fspath(path)!r} are not those of the network its metadata "
            f"describes: {str(err).splitlines()[0]}{hint}"
        ) from None
    except ValueError as err:  # options the network refuses (fusion_kwargs, say)
        raise ModelFileError(
            f"The parameters stored in {os.fspath(path)!r} do not describe a network this "
            f"version of sk_i2moe builds: {str(err).splitlines()[0]}"
        ) from None
    _file_checks.check_fitted(estimator, os.fspath(path))
    _restore_optimizer(estimator, document.get("optimizer"), optimizer_tensors, os.fspath(path))
    return estimator


class _Serving(torch.nn.Module):
    """The fitted mixture with one tensor argument per modality and ``predict``'s output.

    With ``absent_modalities`` the graph treats a modality that is NaN in every
    column of a row as absent for that sample, as the estimator does: its
    inputs become 0 and the mixture gets the ``present`` mask (the absent
    modality's experts get no weight and its absence offset is added). A row
    whose every modality is absent, which the estimator refuses, gives NaN.
    Without it (a model fitted with ``allow_missing_modalities=False``, whose
    estimator refuses absent modalities) such rows give NaN too, as a NaN
    input does.
    """

    def __init__(
        self,
        mixture: torch.nn.Module,
        head: str,
        loc=None,
        scale=None,
        absent_modalities: bool = False,
    ) -> None:
        super().__init__()
        self.mixture = mixture
        self.head = head
        self.absent_modalities = absent_modalities
        if head == "affine":
            self.register_buffer("loc", torch.as_tensor(loc, dtype=torch.float32))
            self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float32))

    def forward(self, *xs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``predict``'s output and the interaction weights ``[B, E]`` of every row."""
        if self.absent_modalities:
            absent = torch.stack([torch.isnan(x).all(dim=1) for x in xs], dim=1)  # [B, M]
            inputs = [
                torch.where(absent[:, m : m + 1], torch.zeros_like(x), x) for m, x in enumerate(xs)
            ]
            output = self.mixture(inputs, present=~absent)
            nothing = absent.all(dim=1, keepdim=True)
            logits, weights = (
                torch.where(nothing, torch.full_like(t, float("nan")), t)
                for t in (output.logits, output.weights)
            )
        else:
            output = self.mixture(list(xs))
            logits, weights = output.logits, output.weights
        weights = weights.float()
        if self.head == "softmax":
            return torch.softmax(logits, dim=-1), weights
        if self.head == "sigmoid":
            return torch.sigmoid(logits), weights
        return logits * self.scale + self.loc, weights


def to_onnx(estimator: object, path: str | os.PathLike) -> None:
    """Export a fitted estimator to ONNX (see ``I2MoEBase.to_onnx``)."""
    import copy

    from sklearn.base import is_classifier
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(estimator, "net_")
    try:
        import onnx  # noqa: F401  (the exporter needs it)
        import onnxscript  # noqa: F401
    except ImportError as err:
        raise ImportError(
            "to_onnx needs the 'export' extra: pip install \"sk-i2moe[export]\" "
            f"(onnx, onnxscript, onnxruntime); {err}."
        ) from None
    if "dynamo" not in inspect.signature(torch.onnx.export).parameters:
        raise ImportError(
            f"to_onnx needs torch's dynamo-based ONNX exporter (torch >= 2.5); this is torch "
            f"{torch.__version__}: upgrade torch to export."
        )
    module = estimator._module()
    mixture = copy.deepcopy(module).to("cpu").eval()
    for member in mixtures_of(mixture):  # the exporter fixed the rows of vmapped experts
        if isinstance(member.fusion, VmappedFusion):
            member.fusion.one_by_one = True
    absent = bool(estimator.allow_missing_modalities)
    if is_classifier(estimator):
        head = "sigmoid" if estimator._multilabel else "softmax"
        serving, output = _Serving(mixture, head, absent_modalities=absent), "probabilities"
    else:
        serving = _Serving(
            mixture, "affine", estimator._y_loc, estimator._y_scale, absent_modalities=absent
        )
        output = "predictions"
    serving.eval()  # the wrapper too: the exporter warns of a model in training mode
    names = list(estimator.modalities_)
    clash = sorted({output, WEIGHTS_OUTPUT} & set(names))
    if clash:
        raise ValueError(
            f"A modality is named {clash[0]!r}, like an output of the ONNX graph; rename the "
            "modality (the key of X) to export."
        )
    # placeholders: a modality may be named like a value inside the graph ("mean", "add")
    placeholders = [f"sk_i2moe_input_{i}" for i in range(len(names))]
    example = tuple(torch.zeros(2, d) for d in estimator.modalities_.values())
    batch = torch.export.Dim("batch", min=1)
    fusion = estimator.fusion if isinstance(estimator.fusion, str) else "custom"
    unsupported = (
        f"fusion={fusion!r} cannot be exported to ONNX by torch {torch.__version__} ({{}}). The "
        "built-in backbones 'mlp', 'transformer', 'early', 'late', 'lrtf' and 'interpretcc' "
        "export; the sparse ones route tokens by their values, which the exporter cannot trace."
    )
    if not all(getattr(m.fusion, "onnx_exportable", True) for m in mixtures_of(mixture)):
        # known in advance: refuse before the exporter prints the graph it failed on
        raise ValueError(unsupported.format("its layers route tokens by their values"))
    try:
        program = torch.onnx.export(
            serving,
            example,
            dynamo=True,
            input_names=placeholders,
            output_names=[output, WEIGHTS_OUTPUT],
            dynamic_shapes=(tuple({0: batch} for _ in names),),  # the *xs argument
            verbose=False,
        )
    except Exception as err:
        cause = err
        while cause.__cause__ is not None:  # the exporter wraps the tracer's error
            cause = cause.__cause__
        detail = f"{type(cause).__name__}: {str(cause).strip().splitlines()[0][:300]}"
        raise ValueError(unsupported.format(detail)) from None
    values = [*program.model.graph.inputs, *program.model.graph.outputs]
    if any(isinstance(value.shape[0], int) for value in values):
        # torch.export can specialise the batch instead of failing (a custom backbone run
        # through torch.vmap): the graph would take exactly that many rows
        raise ValueError(
            unsupported.format(
                f"the exporter fixed the number of rows at {example[0].shape[0]}, so the graph "
                "would take batches of that size only; a custom backbone, batched through "
                "torch.vmap, can cause this"
            )
        )
    program.save(os.fspath(path))
    _name_inputs(
        os.fspath(path),
        dict(zip(placeholders, names)),
        {
            "expert_names": json.dumps(list(estimator.expert_names_)),
            "output_names": json.dumps(estimator._output_names()),
        },
    )


def _name_inputs(path: str, names: dict[str, str], metadata: dict[str, str]) -> None:
    """Rename the graph's inputs to the modality names, moving clashing inner names aside.

    Also writes ``metadata`` to the model's metadata properties.
    """
    import onnx

    model = onnx.load(path)
    onnx.helper.set_model_props(model, metadata)
    graph = model.graph
    wanted = set(names.values())
    inner = {o for node in graph.node for o in node.output}
    inner |= {t.name for t in graph.initializer} | {v.name for v in graph.value_info}
    renames = dict(names)
    for name in sorted(inner & wanted):
        fresh, k = f"{name}_inner", 0
        while fresh in inner or fresh in wanted:
            k += 1
            fresh = f"{name}_inner{k}"
        renames[name] = fresh
    for value in [*graph.input, *graph.output, *graph.value_info]:
        value.name = renames.get(value.name, value.name)
    for tensor in graph.initializer:
        tensor.name = renames.get(tensor.name, tensor.name)
    for node in graph.node:
        node.input[:] = [renames.get(n, n) for n in node.input]
        node.output[:] = [renames.get(n, n) for n in node.output]
    onnx.checker.check_model(model)
    onnx.save(model, path)
