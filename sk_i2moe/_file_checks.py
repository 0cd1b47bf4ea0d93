"""Checks of a model file's contents against themselves and the network they describe.

:func:`sk_i2moe.load` refuses a file that an estimator's ``save`` could not have
written. Reading executes nothing, but a file someone sent can still hold
values that no fit produces: sizes that would make a small file cost a lot to
check, labels or expert names that do not belong to its network, target
scalings that are not finite, or optimizer settings that break (or silently
ruin) a later ``warm_start`` fit. Each check here raises
:class:`~sk_i2moe._io.ModelFileError` (a ``ValueError``) that names the file
and the value; what a check cannot tell from a genuine file it leaves alone.
"""

from __future__ import annotations

import math
import numbers
import os
import re
from collections.abc import Mapping

import numpy as np
import pandas as pd
import torch

from ._warn import warn

#: optimizer settings that depend on the device the optimizer runs on, not on the fit:
#: taken from the optimizer the loaded estimator builds, never from the file
_DEVICE_OPTIMIZER_FLAGS = ("foreach", "fused", "capturable")

#: settings that a newer torch's AdamW records and an older one's lacks, with the one value an
#: AdamW has (``decoupled_weight_decay``, from torch's merge of Adam and AdamW): dropped
#: from a file read by the older torch
_ADAMW_IMPLIED = {"decoupled_weight_decay": True}

#: what the tagged string arrays of one file may take in memory once decoded, in bytes: this
#: much, plus ``_STRING_BYTES_PER_METADATA_BYTE`` per byte of the file's metadata. A NumPy
#: string array costs its width times its length however short its strings are written, so
#: a small file could otherwise ask for gigabytes; parsing the JSON costs about as many
#: bytes per metadata byte itself.
_STRING_BYTES_FLOOR = 16 * 2**20
_STRING_BYTES_PER_METADATA_BYTE = 16


def _error(path: str, message: str) -> Exception:
    from ._io import ModelFileError

    return ModelFileError(f"{path!r}: {message} The file was not written by sk_i2moe's save().")


def _is_count(value: object, low: int) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= low


def check_build_size(params: Mapping, fitted: Mapping, n_tensors: int, path: str) -> None:
    """Refuse sizes that would make checking the network cost more than the file holds.

    Before comparing the weights, ``load`` builds the network the parameters
    describe (on the ``meta`` device: shapes without storage); every layer of
    every member is still a Python module. A genuine file holds at least one
    tensor per layer per member, so ``n_members_ x n_layers`` above the
    number of tensors in the file is refused before anything is built.

    Parameters
    ----------
    params : mapping
        The estimator's decoded parameters.
    fitted : mapping
        The decoded fitted attributes.
    n_tensors : int
        Number of network tensors in the file.
    path : str
        The file, for messages.

    Raises
    ------
    ModelFileError
    """
    members = fitted.get("n_members_", 1)
    layers = params.get("n_layers", 1)
    if not _is_count(members, 1) or not _is_count(layers, 1):
        raise _error(path, f"n_members_={members!r} and n_layers={layers!r} are not counts.")
    if members * layers > max(n_tensors, 1):
        raise _error(
            path,
            f"its network would have {members} member(s) of {layers} layer(s), more than the "
            f"{n_tensors} tensors it holds.",
        )


def string_array_excess(document: object, n_metadata: int) -> str | None:
    """What is wrong when a document's string arrays would cost more than a file may ask.

    Every tagged array of a string dtype (``{"__ndarray__": [...], "dtype":
    "<U5"}``) becomes a NumPy array of its width times its length. Together
    they may take ``_STRING_BYTES_FLOOR`` bytes plus
    ``_STRING_BYTES_PER_METADATA_BYTE`` per byte of metadata, so that the
    memory ``load`` spends decoding is bounded by the file's size, whatever
    widths the file names. ``save`` checks the same bound on what it writes.

    Parameters
    ----------
    document : object
        The metadata as parsed JSON (tagged, not yet decoded).
    n_metadata : int
        Length of the metadata's JSON text.

    Returns
    -------
    str or None
        The problem, naming the largest array; None when within bounds.
    """
    total, largest, largest_size = 0, None, -1
    pending = [document]
    while pending:  # not recursive: the nesting depth is the file's
        value = pending.pop()
        if isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, dict):
            pending.extend(value.values())
            size = _string_array_bytes(value)
            total += size
            if size > largest_size:
                largest, largest_size = value, size
    allowed = _STRING_BYTES_FLOOR + _STRING_BYTES_PER_METADATA_BYTE * n_metadata
    if total <= allowed:
        return None
    items = largest["__ndarray__"]
    longest = max((len(item) for item in items if isinstance(item, str)), default=0)
    return (
        f"its string arrays would take {total:,} bytes once decoded, more than the "
        f"{allowed:,} that {n_metadata:,} bytes of metadata may ask for; the largest, of dtype "
        f"{largest['dtype']!r}, holds {len(items):,} strings, and its strings are at most "
        f"{longest} characters long"
    )


def check_string_arrays(document: object, n_metadata: int, path: str) -> None:
    """Refuse a file whose string arrays would cost more to decode than its size allows.

    See :func:`string_array_excess`.

    Raises
    ------
    ModelFileError
    """
    excess = string_array_excess(document, n_metadata)
    if excess is not None:
        raise _error(path, f"{excess} (a string dtype far wider than its strings).")


def _string_array_bytes(value: dict) -> int:
    """Bytes a tagged array of a string dtype takes once decoded (0 for anything else)."""
    items, dtype = value.get("__ndarray__"), value.get("dtype")
    if not isinstance(items, list) or not isinstance(dtype, str):
        return 0
    try:
        parsed = np.dtype(dtype)
    except (TypeError, ValueError, OverflowError):
        return 0  # decoding refuses it
    return parsed.itemsize * len(items) if parsed.kind == "U" else 0


def check_layout(
    spec: object,
    modalities: object,
    n_features_in: object,
    path: str,
    *,
    owner: str,
    selected_by: object,
) -> None:
    """Check the stored input layout against ``modalities_`` and itself, order included.

    The modality names must be names ``fit`` accepts; a table's column
    positions integer arrays that split its columns, the ones that the
    ``modalities`` parameter of the fit (``selected_by``) selects; column
    names, where kept, one label per column; the layout's owner (named in
    messages) the estimator ``owner``.

    Raises
    ------
    ModelFileError
    """
    problem = _names_problem(spec.names, spec.n_features)
    if problem is not None:
        raise _error(path, f"its input layout is not one fit() makes: {problem}.")
    layout = list(zip(spec.names, spec.n_features))
    if not isinstance(modalities, dict) or list(modalities.items()) != layout:
        problem = f"modalities_ {modalities} against an input layout of {dict(layout)}"
    elif n_features_in != spec.n_columns:
        problem = f"n_features_in_={n_features_in!r} against {spec.n_columns} input columns"
    elif spec.columns is not None and not _splits(spec.columns, spec.n_features, spec.n_columns):
        problem = (
            f"the modalities' columns do not split {spec.n_columns} input columns into "
            f"groups of {list(spec.n_features)} integer positions"
        )
    elif spec.feature_names is not None and not column_labels(spec.feature_names, spec.n_columns):
        problem = (
            f"the column names are not a 1-D array of {spec.n_columns} labels (strings, numbers, "
            "None or tuples of them)"
        )
    elif not _per_modality_names(spec):
        problem = (
            "the modalities' column names are not one label (a string, a number, None or a "
            "tuple of them) per feature of each modality, or None"
        )
    elif spec.owner != owner:
        problem = (
            f"the input layout's owner {repr(spec.owner)[:40]} against the estimator {owner!r}"
        )
    else:
        problem = _selection_problem(spec, selected_by)
    if problem is not None:
        raise _error(path, f"its metadata disagrees with itself: {problem} (names, order, sizes).")


def _selection_problem(spec: object, selected_by: object) -> str | None:
    """What keeps the fit's ``modalities`` parameter from giving the stored column groups."""
    from ._modalities import column_groups

    if spec.columns is None:
        return None if selected_by is None else "modalities= set for a mapping's layout"
    names = spec.feature_names
    if names is None:
        columns = None
    elif len(names) and all(isinstance(name, tuple) for name in names.tolist()):
        columns = pd.MultiIndex.from_tuples(names.tolist())
    else:
        columns = pd.Index(names.tolist(), dtype=object)
    try:
        groups = column_groups(selected_by, columns, spec.n_columns)
    except (TypeError, ValueError, KeyError, IndexError) as err:
        return f"the fit's modalities= {selected_by!r} selects no layout ({err})"
    if tuple(groups) != spec.names or not all(
        np.array_equal(group, stored) for group, stored in zip(groups.values(), spec.columns)
    ):
        return f"the fit's modalities= {selected_by!r} selects other columns than the layout's"
    return None


def _names_problem(names: object, n_features: object) -> str | None:
    """What is wrong with the layout's modality names and sizes; None when fit() could make them."""
    from ._modalities import _check_name

    if not isinstance(names, tuple) or not isinstance(n_features, tuple):
        return "its modality names and feature counts are not tuples"
    try:
        for name in names:
            _check_name(name)
    except TypeError as err:
        return str(err).rstrip(".")
    return None


def _splits(columns: object, n_features: tuple, n_columns: object) -> bool:
    """Whether ``columns`` are integer position arrays, of ``n_features``, that split the table."""
    if not isinstance(columns, tuple) or not all(
        isinstance(group, np.ndarray) and group.ndim == 1 and group.dtype.kind in "iu"
        for group in columns
    ):
        return False
    if [group.size for group in columns] != list(n_features) or not columns:
        return False
    positions = np.sort(np.concatenate(columns))
    return positions.size == n_columns and bool((positions == np.arange(positions.size)).all())


def _per_modality_names(spec: object) -> bool:
    """Whether a mapping's per-modality column names are None or labels, one per feature."""
    names = spec.modality_feature_names
    if names is None:
        return True
    return (
        isinstance(names, tuple)
        and len(names) == len(spec.names)
        and all(
            entry is None or column_labels(entry, n) for entry, n in zip(names, spec.n_features)
        )
    )


def column_labels(names: object, size: int) -> bool:
    """Whether ``names`` are ``size`` column labels as ``save`` writes them.

    A 1-D array of strings, numbers, None and tuples of them (a MultiIndex's
    columns).
    """

    def label(value: object) -> bool:
        if isinstance(value, tuple):
            return all(label(v) and not isinstance(v, tuple) for v in value)
        return value is None or isinstance(
            value, (str, int, float, np.integer, np.floating, np.bool_)
        )

    return (
        isinstance(names, np.ndarray)
        and names.ndim == 1
        and names.size == size
        and all(label(v) for v in names.tolist())
    )


def _finite_floats(value: object, size: int | None) -> bool:
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):
        return False
    return (
        arr.dtype.kind in "fiu"
        and arr.ndim == 1
        and (size is None or arr.size == size)
        and bool(np.isfinite(arr).all())
    )


def check_fitted(estimator: object, path: str) -> None:
    """Check a loaded estimator's fitted values against its rebuilt network.

    ``expert_names_`` must be those of the network, the labels or the target
    scaling must have one entry per network output, and the stored sizes and
    weights must be values a fit produces.

    Raises
    ------
    ModelFileError
    """
    module = estimator._module()
    names = module.expert_names(list(estimator.modalities_))
    if list(estimator.expert_names_) != names:
        raise _error(
            path,
            f"expert_names_ {list(estimator.expert_names_)} are not its network's {names}.",
        )
    weights = estimator.interaction_weights_
    if (
        not _finite_floats(weights, len(names))
        or not math.isclose(float(np.sum(weights)), 1.0, abs_tol=1e-3)
        or not ((np.asarray(weights) >= 0) & (np.asarray(weights) <= 1)).all()
    ):
        raise _error(
            path,
            f"interaction_weights_ is not {len(names)} finite weights that sum to 1, each in "
            "[0, 1].",
        )
    n_outputs = estimator.net_.get_params_for("module")["n_outputs"]
    if hasattr(estimator, "classes_"):
        _check_classes(estimator, n_outputs, path)
        _check_class_weights(estimator, path)
    else:
        _check_target_scaling(estimator, n_outputs, path)
        if hasattr(estimator, "class_weight_"):
            raise _error(path, "it gives a regressor class weights (class_weight_).")
    frozen = set(estimator.get_params(deep=False)) - estimator._CONTINUABLE
    unknown = sorted(set(estimator._frozen) - frozen, key=str)
    if unknown:
        raise _error(
            path,
            f"its record of the parameters the network was built with (_frozen) holds "
            f"{unknown[:5]}, which are not parameters a fit fixes.",
        )
    for name, low in (("batch_size_", 1), ("n_iter_", 0), ("n_reweight_steps_", 0)):
        if not _is_count(getattr(estimator, name), low):
            raise _error(path, f"{name}={getattr(estimator, name)!r} is not a count >= {low}.")
    loss = estimator.validation_loss_
    if loss is not None and not _finite_floats(loss, None):
        raise _error(path, "validation_loss_ is neither None nor finite numbers.")
    names = getattr(estimator, "target_names_", None)
    if names is not None and (
        not isinstance(names, np.ndarray)
        or names.shape != (n_outputs,)
        or not all(isinstance(name, str) for name in names.tolist())
        or len(set(names.tolist())) != n_outputs
        or getattr(estimator, "_multilabel", True) is False
    ):
        raise _error(
            path,
            f"target_names_ is neither None nor {n_outputs} distinct strings, one per output of a "
            "multi-label or regression network.",
        )
    feature_names = getattr(estimator, "feature_names_in_", None)
    stored = estimator._input_spec.feature_names
    if feature_names is not None and (
        stored is None or list(np.asarray(feature_names)) != list(np.asarray(stored))
    ):
        raise _error(path, "feature_names_in_ disagrees with the input layout's column names.")


def _check_classes(estimator: object, n_outputs: int, path: str) -> None:
    classes = estimator.classes_
    multilabel = estimator._multilabel
    if not isinstance(multilabel, bool):
        raise _error(path, f"_multilabel={multilabel!r} is not a bool.")
    if (
        not isinstance(classes, np.ndarray)
        or classes.ndim != 1
        or not all(isinstance(c, (str, numbers.Number, np.generic)) for c in classes.tolist())
        or len(classes) != n_outputs
        or len(classes) < 2 - multilabel
        or not _distinct_sorted(classes)
    ):
        raise _error(
            path,
            f"classes_ {classes!r} is not {n_outputs} distinct sorted labels, one per output "
            "of its network.",
        )
    if multilabel and not np.array_equal(classes, np.arange(n_outputs)):
        raise _error(path, "a multi-label model's classes_ are not its label indices.")


def _distinct_sorted(classes: np.ndarray) -> bool:
    """Whether ``classes`` are distinct and sorted (False for labels that do not compare)."""
    try:
        return bool(np.array_equal(classes, np.unique(classes)))
    except TypeError:  # e.g. strings and numbers in one object array
        return False


def _check_class_weights(estimator: object, path: str) -> None:
    """``class_weight_``: None, or one finite weight >= 0 per class, as ``fit`` computes it."""
    weights = getattr(estimator, "class_weight_", None)
    if weights is None:
        return
    if (
        not isinstance(weights, np.ndarray)
        or weights.dtype.kind != "f"
        or not _finite_floats(weights, len(estimator.classes_))
        or (weights < 0).any()
    ):
        raise _error(
            path,
            f"class_weight_ is not None nor {len(estimator.classes_)} finite weights >= 0, "
            "one per class.",
        )


def _check_target_scaling(estimator: object, n_outputs: int, path: str) -> None:
    loc, scale, ndim = estimator._y_loc, estimator._y_scale, estimator._y_ndim
    if (
        ndim not in (1, 2)
        or isinstance(ndim, bool)
        or (ndim == 1 and n_outputs != 1)
        or not _finite_floats(loc, n_outputs)
        or not _finite_floats(scale, n_outputs)
        or not (np.asarray(scale) >= 0).all()
    ):
        raise _error(
            path,
            f"its target scaling (_y_ndim={ndim!r}, one finite location and scale >= 0 per "
            f"output: 0 for a constant one) does not fit a network of {n_outputs} output(s).",
        )


def check_optimizer_groups(saved: object, fresh: list[dict], path: str) -> list[dict]:
    """The saved optimizer's parameter groups, checked against a freshly built optimizer's.

    The groups must have (a subset of) the fresh optimizer's keys, apart from
    settings a newer torch records with the only value an AdamW has, and its
    parameter indices. The learning rate must be finite and positive (a
    ``warm_start`` fit sets it from ``lr``, which may change between fits);
    every other setting (weight decay, betas, eps, ...) must be the fresh
    optimizer's, which the estimator derives from its parameters, except the
    device-dependent implementation flags, which are taken from it.

    Parameters
    ----------
    saved : object
        The decoded ``param_groups`` of the file.
    fresh : list of dict
        ``param_groups`` of the optimizer the loaded estimator built, with the
        weight decay of the fit that built its network.
    path : str
        The file, for messages.

    Returns
    -------
    list of dict
        The groups to load.

    Raises
    ------
    ModelFileError
    """
    if not isinstance(saved, list) or len(saved) != len(fresh):
        raise _error(path, "its optimizer does not have the network's parameter groups.")
    groups = []
    for group, reference in zip(saved, fresh):
        if isinstance(group, dict):  # a file written with a newer torch: drop what AdamW implies
            group = {
                k: v for k, v in group.items() if k in reference or _ADAMW_IMPLIED.get(k) is not v
            }
        if not isinstance(group, dict) or not {"params", "lr", "betas"} <= set(group) <= set(
            reference
        ):
            raise _error(path, "its optimizer's settings are not those of AdamW.")
        # a file written with another torch may lack settings added since: the fresh ones
        group = {**reference, **group}
        if list(group["params"]) != list(reference["params"]):
            raise _error(path, "its optimizer's groups do not hold the network's parameters.")
        betas = group["betas"]
        numbers_ok = (
            _real(group["lr"], 0, inclusive=False)
            and _real(group["eps"], 0, inclusive=False)
            and _real(group["weight_decay"], 0, inclusive=True)
            and isinstance(betas, (tuple, list))
            and len(betas) == 2
            and all(_real(b, 0, inclusive=True) and b < 1 for b in betas)
        )
        if not numbers_ok:
            raise _error(
                path,
                "its optimizer's lr, eps, weight_decay or betas are not finite numbers in "
                "range (lr, eps > 0; weight_decay >= 0; 0 <= betas < 1).",
            )
        taken = {"params", "lr", *_DEVICE_OPTIMIZER_FLAGS}
        other = [k for k in reference if k not in taken and group[k] != reference[k]]
        if other:
            found = ", ".join(f"{k}={group[k]!r} (built: {reference[k]!r})" for k in other[:3])
            raise _error(path, f"its optimizer's {other[:3]} differ from the estimator's: {found}.")
        groups.append(
            {**group, **{k: reference[k] for k in _DEVICE_OPTIMIZER_FLAGS if k in reference}}
        )
    return groups


def _real(value: object, low: float, *, inclusive: bool) -> bool:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    return math.isfinite(value) and (value >= low if inclusive else value > low)


def check_buffers(module_state: Mapping[str, torch.Tensor], path: str) -> None:
    """Refuse network buffers outside the range a fit gives them.

    An output temperature lies in ``[1, MAX_TEMPERATURE]`` (``fit_temperature``
    only softens), a weight shrinkage, the anchor it shrinks towards and an
    absence shrinkage in ``[0, 1]``, and an input standardisation's scales are positive: a file
    with a temperature of 0 or -1, say, would predict NaN or flip every class.

    Parameters
    ----------
    module_state : mapping of str to Tensor
        The network's weights and buffers read from the file, by name.
    path : str
        The file, for messages.

    Raises
    ------
    ModelFileError
    """
    from .nn.calibration import MAX_TEMPERATURE

    for name, value in module_state.items():
        last = name.rpartition(".")[2]
        if last == "output_temperature":
            ok, what = (value >= 1) & (value <= MAX_TEMPERATURE), f"in [1, {MAX_TEMPERATURE:g}]"
        elif last in ("weight_shrinkage", "weight_anchor", "absence_shrinkage"):
            ok, what = (value >= 0) & (value <= 1), "in [0, 1]"
        elif re.fullmatch(r"scale_\d+", last):
            ok, what = value > 0, "positive"
        else:
            continue
        if not bool(ok.all()):
            raise _error(path, f"its buffer {name!r} is not {what}, as every fit leaves it.")


def check_optimizer_state(name: str, key: str, value: torch.Tensor, path: str) -> None:
    """Refuse an optimizer state tensor no AdamW step produces.

    Raises
    ------
    ModelFileError
    """
    if value.is_floating_point() and not torch.isfinite(value).all():
        raise _error(path, f"the optimizer tensor {name!r} is not finite.")
    if key in ("step", "exp_avg_sq") and (value < 0).any():
        raise _error(path, f"the optimizer tensor {name!r} is negative.")


def bounded_threads(n_threads: object, path: str) -> object:
    """``n_threads`` from a file, at most this machine's CPU count (with a warning).

    The number of threads describes the machine a model was fitted on; a file
    may not make the reader's process start more threads than it has CPUs.
    """
    cpus = os.cpu_count() or 1
    if isinstance(n_threads, numbers.Integral) and n_threads > cpus:
        warn(
            f"{path!r} was saved with n_threads={n_threads}; this machine has {cpus} CPUs, "
            f"so the loaded estimator uses n_threads={cpus}.",
            UserWarning,
        )
        return cpus
    return n_threads
