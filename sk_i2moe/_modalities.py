"""Turn what the user passes as ``X`` into an ordered ``{modality: float32 array}``.

Every input check and every input error message of the package lives here.
Accepted forms:

* a mapping (``dict``, :class:`skorch.helper.SliceDict`) of 2-D arrays;
* a pandas DataFrame or 2-D array with ``modalities={name: columns}``;
* a DataFrame whose columns carry ColumnTransformer-style ``name__feature``
  prefixes, with ``modalities=None``;
* a DataFrame with two-level ``(modality, feature)`` MultiIndex columns, with
  ``modalities=None``;
* a plain 2-D array (or an unprefixed DataFrame) with ``modalities=None``: one
  modality named ``"x"``.

In every form, a modality whose values are all NaN in a row is **absent** for
that sample (:func:`absent_rows`); NaN in only some of a modality's columns is
an error, and so is a row with every modality absent.
"""

from __future__ import annotations

import contextlib
import contextvars
import decimal
import numbers
from collections import Counter
from collections.abc import Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from ._warn import warn

SINGLE_MODALITY = "x"
_PREFIX_SEP = "__"


def _describe(obj: object) -> str:
    """Short description of an object's type and shape for error messages."""
    shape = getattr(obj, "shape", None)
    kind = type(obj).__name__
    return f"{kind} of shape {tuple(shape)}" if shape is not None else kind


def _as_float32(values: object, name: str, fitting: bool = False) -> np.ndarray:
    """Validate one modality's data and return it as a 2-D float32 array.

    When ``fitting``, features that float32 rounds by much of their range
    are named in a warning (they call for centring, hence a new fit).
    """
    if sparse.issparse(values):
        raise TypeError(
            f"Modality {name!r} is a sparse {type(values).__name__}; sparse input is not "
            "supported. Convert it with .toarray() (or reduce it, e.g. with TruncatedSVD)."
        )
    _refuse_masked(values, f"Modality {name!r}")
    if isinstance(values, pd.DataFrame):
        # by position: column names may repeat
        dtypes = list(values.dtypes)
        objects = [pd.api.types.is_object_dtype(t) for t in dtypes]
        bad = [
            (c, t)
            for position, (c, t) in enumerate(zip(values.columns, dtypes))
            if not (
                pd.api.types.is_numeric_dtype(t)
                or pd.api.types.is_bool_dtype(t)
                or (objects[position] and not _holds_text(values.iloc[:, position]))
            )
        ]
        if bad:
            raise TypeError(
                f"Modality {name!r} has non-numeric columns {[c for c, _ in bad[:5]]} "
                f"(dtypes {[str(t) for _, t in bad[:5]]}). {_encoding_hint([t for _, t in bad])}"
            )
        if any(objects):  # read value by value below, as an object array
            arr = values.to_numpy(dtype=object)
        elif any(pd.api.types.is_complex_dtype(t) for t in dtypes):
            arr = values.to_numpy()  # refused below, as a complex array
        else:
            arr = values.to_numpy(dtype=np.float64, na_value=np.nan)
    elif isinstance(values, pd.Series):
        raise ValueError(
            f"Modality {name!r} is a 1-D pandas Series of length {len(values)}; expected a "
            "2-D array (n_samples, n_features). Use series.to_frame() for a single feature."
        )
    else:
        try:
            arr = np.asarray(values)
        except ValueError as err:  # rows of different lengths
            raise ValueError(
                f"Modality {name!r} must be a 2-D array (n_samples, n_features); its rows "
                f"cannot form one ({err}). Give every row the same number of features."
            ) from err
    if arr.ndim != 2:
        if arr.ndim == 1:
            hint = (
                " Reshape your data: array.reshape(-1, 1) for a single feature, or "
                "array.reshape(1, -1) for a single sample."
            )
        elif arr.ndim == 0:
            hint = (
                " Give the modality's (n_samples, n_features) array; for samples that lack "
                "the modality, rows of NaN in it (an all-NaN row is an absent modality)."
            )
        else:
            hint = " Flatten it to (n_samples, n_features) first."
        raise ValueError(
            f"Modality {name!r} must be a 2-D array (n_samples, n_features); got "
            f"{_describe(values)} with {arr.ndim} dimension(s).{hint}"
        )
    if arr.dtype.kind == "O":  # e.g. numbers stored as Python objects
        arr = _object_numbers(arr, name)
    elif arr.dtype.kind == "c":
        raise ValueError(
            f"Modality {name!r} must hold real numbers; got dtype {arr.dtype} (Complex data "
            "not supported). Split it into real and imaginary parts first."
        )
    elif arr.dtype.kind not in "biuf":
        raise TypeError(
            f"Modality {name!r} must hold real numbers (bool, int or float); got dtype "
            f"{arr.dtype}. Encode it first (e.g. OneHotEncoder for categories, numeric "
            "features for dates, real and imaginary parts for complex values)."
        )
    if arr.shape[1] == 0:
        raise ValueError(
            f"Modality {name!r} has 0 feature(s) (shape={arr.shape}) while a minimum of 1 is "
            "required. Remove the empty modality."
        )
    if arr.shape[0] == 0:
        raise ValueError(
            f"Modality {name!r} has 0 sample(s) (shape={arr.shape}) while a minimum of 1 is "
            "required."
        )
    with np.errstate(over="ignore"):  # overflow becomes inf, reported just below
        out = arr.astype(np.float32, copy=False)
    n_inf = int(np.isinf(out).sum())
    if n_inf:
        raise ValueError(
            f"Modality {name!r} contains inf ({n_inf} values, including values too large for "
            "float32). Replace or drop them first."
        )
    if fitting and (arr.dtype.kind in "iu" or (arr.dtype.kind == "f" and arr.dtype.itemsize > 4)):
        labels = list(values.columns) if isinstance(values, pd.DataFrame) else None
        _warn_rounded_features(arr, out, name, labels)
    nan = np.isnan(out)
    partial = nan.any(axis=1) & ~nan.all(axis=1)
    if partial.any():
        rows = np.flatnonzero(partial)
        named = (
            f" (index {values.index[rows[:5]].tolist()})"
            if isinstance(values, pd.DataFrame)
            else ""
        )
        gaps = np.flatnonzero(nan[partial].any(axis=0))
        labels = list(values.columns) if isinstance(values, pd.DataFrame) else None
        columns = [labels[i] for i in gaps[:10]] if labels else gaps[:10].tolist()
        which = "columns" if labels else "the modality's columns at positions"
        raise ValueError(
            f"Modality {name!r} has NaN in some but not all of its {out.shape[1]} columns in "
            f"{rows.size} row(s) (e.g. rows at positions {rows[:5].tolist()}{named}; NaN in "
            f"{which} {columns}{' and more' if gaps.size > 10 else ''}). A "
            "modality that is all NaN "
            "in a row is absent for that sample and handled by the model; a partly missing "
            "modality must be imputed first, e.g. with sklearn.impute.SimpleImputer inside a "
            "Pipeline (sk_i2moe.preprocessing.make_modality_transformer builds one per "
            "modality). Tools that change one column at a time (sklearn.inspection."
            "permutation_importance, partial_dependence) make such rows out of absent "
            "modalities: use sk_i2moe.inspection.modality_importance there."
        )
    return out


def _from_polars(X: object) -> bool:
    """Whether ``X`` is a polars object (polars itself is not imported)."""
    return type(X).__module__.partition(".")[0] == "polars"


def _is_polars_frame(X: object) -> bool:
    """Whether ``X`` is a polars DataFrame."""
    return _from_polars(X) and hasattr(X, "get_column")


def _pandas_input(X: object) -> object:
    """``X`` with each polars DataFrame in it as a pandas DataFrame; other input unchanged.

    scikit-learn transformers can output polars frames
    (``set_output(transform="polars")``). They are read column by column (no
    pyarrow needed), with the same column names, so that modality prefixes and
    feature-name checks work as for pandas; a missing value of a number column
    becomes NaN. A mapping is returned as a dict when one of its values is a
    polars frame, as it is otherwise.

    Parameters
    ----------
    X : object
        Input in any accepted form.

    Returns
    -------
    object
        ``X``, or its pandas counterpart.
    """
    modalities = X.items() if isinstance(X, Mapping) else ()
    for what, value in [("X", X), *((f"Modality {k!r}", v) for k, v in modalities)]:
        if _from_polars(value) and hasattr(value, "collect"):
            raise TypeError(
                f"{what} is a polars LazyFrame, whose rows are not computed yet; pass its "
                ".collect(), a polars DataFrame."
            )
    if _is_polars_frame(X):
        return _polars_to_pandas(X)
    if isinstance(X, Mapping) and any(_is_polars_frame(v) for v in X.values()):
        # polars frames have no row labels: beside a pandas frame they take its index, as an
        # array there is paired with its rows by position
        index = next((v.index for v in X.values() if isinstance(v, pd.DataFrame)), None)
        return {k: _polars_to_pandas(v, index) if _is_polars_frame(v) else v for k, v in X.items()}
    return X


def _polars_to_pandas(frame: object, index: pd.Index | None = None) -> pd.DataFrame:
    """A polars DataFrame as a pandas one, column by column (``index`` if its length fits)."""
    columns = {}
    for name in frame.columns:
        values = frame.get_column(name).to_numpy()
        if values.ndim != 1:
            raise TypeError(
                f"Column {name!r} of the polars DataFrame holds nested values (dtype "
                f"{frame.schema[name]}); give each number its own column first."
            )
        columns[name] = values
    if index is None or len(index) != frame.height:
        index = pd.RangeIndex(frame.height)
    return pd.DataFrame(columns, columns=list(frame.columns), index=index)


def _holds_text(column: pd.Series) -> bool:
    """Whether an object column holds a string or bytes value (text is never read as numbers)."""
    return bool(column.map(lambda v: isinstance(v, (str, bytes))).any())


#: a feature's values rounded to float32 (24 significant bits, the precision the network
#: reads) by more than this fraction of their range (fewer than about 50 levels left across
#: it) are named in a warning at fit
ROUNDED_ERROR = 1e-2


def _warn_rounded_features(
    values: np.ndarray, rounded: np.ndarray, name: str, labels: object = None
) -> None:
    """Warn where float32 moves a feature's values by more than ``ROUNDED_ERROR`` of its range.

    A large offset with a small spread (epoch timestamps within an hour,
    ``1e6 + x`` for a small ``x``) keeps its spread in float64 but not in
    float32; centring it first keeps it. Only features whose range holds
    fewer than a thousand float32 steps are measured (the others cannot
    move that far). Integers beyond 2**53, which float64 rounds too, are
    measured against their float64 values.
    """
    high, low = np.fmax.reduce(values, axis=0), np.fmin.reduce(values, axis=0)
    with np.errstate(invalid="ignore", over="ignore"):
        span = high.astype(np.float64) - low
        size = np.fmax(np.abs(high.astype(np.float64)), np.abs(low.astype(np.float64)))
        step = np.spacing(size.astype(np.float32)).astype(np.float64)
        # a spread of a few float64 steps is round-off (a mean of equal values), not data
        candidates = np.flatnonzero((span > 2.0**20 * np.spacing(size)) & (span < 1000 * step))
    errors = np.fmax.reduce(
        np.abs(values[:, candidates].astype(np.float64) - rounded[:, candidates]), axis=0
    )
    over = errors > ROUNDED_ERROR * span[candidates]
    moved, shares = candidates[over], errors[over] / span[candidates][over]
    if moved.size:
        named = [labels[j] for j in moved] if labels is not None else moved.tolist()
        worst = moved[np.argmax(shares)]
        share = 100 * shares.max()
        warn(
            f"Modality {name!r}: float32, the network's precision (about 7 significant "
            f"digits), rounds features {named[:5]} by up to {share:.3g} % of their range "
            f"(values near {size[worst]:.6g}, range {span[worst]:.3g}), "
            "because their offset is large for their spread (timestamps, say). Centre them "
            "before fitting, e.g. subtract a reference value (a date's origin, the training "
            "median).",
            UserWarning,
        )


def _encoding_hint(dtypes: list) -> str:
    """What to do with a DataFrame modality's columns of these non-numeric dtypes."""

    def kind(dtype: object) -> str:
        if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
            return "dates"
        return "text" if pd.api.types.is_string_dtype(dtype) else "categories"

    hints = {
        "dates": "Make dates and durations numbers first (e.g. days since a reference date: "
        "(df[col] - reference).dt.days).",
        "text": "Convert numbers stored as text with pd.to_numeric(df[col]), and encode text "
        "categories, e.g. with sk_i2moe.preprocessing.make_modality_transformer.",
        "categories": "Encode categories first, e.g. with sk_i2moe.preprocessing."
        "make_modality_transformer (one-hot encoding per modality).",
    }
    kinds = dict.fromkeys(kind(dtype) for dtype in dtypes)
    return " ".join(hints[k] for k in kinds)


def _is_real_number(kind: type) -> bool:
    """Whether values of type ``kind`` are real numbers (bools and Decimals too; not times)."""
    if issubclass(kind, (np.datetime64, np.timedelta64)):  # timedelta64 counts as an integer
        return False
    return issubclass(kind, (numbers.Real, np.bool_, decimal.Decimal))


def missing_values(
    values: object,
    holder: str,
    remedy: str = "Replace it with None or float('nan') for a missing value.",
) -> np.ndarray:
    """:func:`pandas.isna` of ``values`` as booleans, or a ``ValueError`` naming ``holder``.

    ``decimal.Decimal("sNaN")`` signals when compared, so that :func:`pandas.isna`
    raises ``decimal.InvalidOperation``; the error says which data hold it
    (``holder``, e.g. ``"Modality 'labs'"``) and what to do (``remedy``).
    """
    try:
        return np.asarray(pd.isna(values), dtype=bool)
    except ArithmeticError as err:  # decimal.Decimal("sNaN") signals when compared
        raise ValueError(
            f"{holder} holds a signalling NaN Decimal (Decimal('sNaN')), which cannot be "
            f"compared or converted. {remedy}"
        ) from err


#: what to do about a target that is a signalling NaN: targets may not be missing
DROP_TARGET = "Drop that sample (targets cannot be missing)."


def missing_target_rows(y: object) -> np.ndarray:
    """Positions of the rows of ``y`` with a missing value in any output.

    NaN, None, ``pd.NA`` (a nullable or categorical ``y``) and ``NaT`` alike;
    integers, text and bools cannot be missing.
    """
    values = _target_values(y)
    if values is None or values.ndim == 0 or values.dtype.kind not in "fcOmM":
        return np.array([], dtype=np.intp)
    missing = missing_values(values, "y", DROP_TARGET).reshape(len(values), -1).any(axis=1)
    return np.flatnonzero(missing)


def refuse_missing_labels(y: object, counted: np.ndarray | None = None) -> None:
    """Refuse class labels ``y`` with missing values, naming the rows.

    NaN, None, ``pd.NA`` (a nullable or categorical ``y``), ``NaT`` and
    ``Decimal("sNaN")`` alike: scikit-learn's label checks meet them with
    messages about label types or comparisons that name neither. Only the
    rows where ``counted`` is True are checked (rows of weight 0 are left out
    of a fit as if not given), and rows are named as the caller counts them.
    """
    rows = missing_target_rows(y)
    if counted is not None:
        rows = rows[counted[rows]]
    if rows.size:
        more = " ..." if len(rows) > 5 else ""
        raise ValueError(
            f"y has missing labels (NaN, None, pd.NA or NaT) at rows {rows[:5].tolist()}{more}; a "
            "class label cannot be missing. Drop those rows from X and y before fitting."
        )


def refuse_signalling_target(y: object) -> None:
    """Refuse a ``y`` of Python objects holding ``Decimal("sNaN")``, naming ``y``.

    scikit-learn's target checks and metrics meet such a value with
    ``decimal.InvalidOperation`` or a message about label types; this says
    what ``y`` holds and what to do. Sparse and numeric ``y`` pass unread.
    """
    values = _target_values(y)
    if values is not None and values.dtype.kind == "O":
        missing_values(values, "y", DROP_TARGET)


def _target_values(y: object) -> np.ndarray | None:
    """``y`` as an array for the checks above; None for sparse or ragged ``y``.

    Those are left to the target checks that follow, which name them.
    """
    if sparse.issparse(y):
        return None
    try:
        return np.asarray(y)
    except ValueError:  # ragged
        return None


def target_names(y: object) -> np.ndarray | None:
    """The column names of a 2-D ``y`` given as a table, or None.

    Names only where every column label is a string and no two are alike (a
    table made from an array, with columns 0, 1, ..., names nothing), as an
    object array: what the outputs of a multi-output regressor or a
    multi-label classifier are called in explanations, plots and exports.
    """
    columns = getattr(y, "columns", None)
    if columns is None or np.ndim(y) != 2:
        return None
    labels = list(columns)
    if not labels or not all(isinstance(c, str) for c in labels) or len(set(labels)) < len(labels):
        return None
    return np.asarray(labels, dtype=object)


def check_target_names(fitted: np.ndarray | None, y: object, scoring: bool = False) -> None:
    """Refuse a ``y`` whose column names are not the fitted ones (``target_names_``), in order.

    The outputs keep the first fit's names: a continued fit (``warm_start``)
    on columns renamed or reordered would train each output on another
    target under the old name. Scoring (``scoring``: ``score`` and the
    inspection functions) refuses a fitted name at another position, which
    would pair an output with another output's column; names the fit did not
    have are taken by position, as a ``y`` without names (an array) is.
    """
    given = target_names(y)
    if fitted is None or given is None or list(given) == list(fitted):
        return
    at = {str(name): i for i, name in enumerate(fitted)}
    if scoring and all(at.get(str(name), i) == i for i, name in enumerate(given)):
        return

    def shown(names: np.ndarray) -> str:
        return str(list(names)) if len(names) <= 10 else f"{list(names)[:10]} and more"

    action = (
        "each output is scored against the column of its name. Give y the fitted "
        "outputs' columns in that order ("
        + (
            str([str(name) for name in fitted])
            if len(fitted) <= 10
            else "<the model>.target_names_"
        )
        + ")."
        if scoring
        else "a continued fit (warm_start) trains each output on the column of its name. "
        "Pass y's columns in the fitted order, or fit a new model."
    )
    raise ValueError(
        f"y's columns {shown(given)} are not those the model was fitted with "
        f"{shown(fitted)}, in that order; {action}"
    )


def training_scale(scale: np.ndarray) -> np.ndarray:
    """The units a regressor trains each output in: its scale, 1 for a constant output.

    A fitted ``_y_scale`` of 0 marks an output of one value in the training
    rows (predicted as that value); the loss, a continued fit and the
    interaction report measure it in the target's own units.

    Parameters
    ----------
    scale : ndarray
        A fitted regressor's ``_y_scale``.

    Returns
    -------
    ndarray
        ``scale`` with its zeros replaced by 1.
    """
    scale = np.asarray(scale, dtype=np.float64)
    return np.where(scale > 0, scale, 1.0)


def regression_targets(y: object) -> np.ndarray:
    """Regression targets as float64 real numbers, or a ``ValueError`` saying what ``y`` holds.

    Complex numbers, dates and durations (which a float cast would accept)
    and text (numbers stored as text too, as for inputs) are refused, and so
    are NaN and infinity.
    """
    arr = np.asarray(y)
    if arr.dtype.kind in "cmM":
        raise ValueError(
            f"y must hold real numbers for regression; got dtype {arr.dtype}. Convert it "
            "first (e.g. dates to days since a reference date, or the real part of a "
            "complex target)."
        )
    text = None
    if arr.dtype.kind in "US" and arr.size:
        text = arr.ravel()[0].item()
    elif arr.dtype.kind == "O":  # a Python loop over objects only
        flat = arr.ravel()
        text = next((v for v in flat if isinstance(v, (str, bytes))), None)
        if text is None:
            if missing_values(flat, "y", DROP_TARGET).any():
                raise ValueError("y contains missing values (NaN, None or pd.NA); drop those rows.")
            other = next((v for v in flat if not _is_real_number(type(v))), None)
            if other is not None:
                raise ValueError(
                    f"y must hold real numbers for regression; it holds "
                    f"{type(other).__name__} values (e.g. {other!r}). Convert them first."
                )
    if text is not None:
        raise ValueError(
            f"y must hold real numbers for regression; it holds text (e.g. {text!r}). "
            "Convert numbers stored as text yourself, e.g. pd.to_numeric(y)."
        )
    try:
        arr = arr.astype(np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"y must hold real numbers for regression; got dtype {arr.dtype} ({err})."
        ) from err
    if not np.isfinite(arr).all():
        raise ValueError("y contains NaN or inf; regression targets must be finite.")
    return arr


def _object_numbers(arr: np.ndarray, name: str) -> np.ndarray:
    """An object array of real numbers and missing values as float64 (missing: NaN).

    A missing value is whatever :func:`pandas.isna` calls one (None, NaN,
    ``pd.NA``, ``pd.NaT``). Text is refused, even text NumPy would parse as a
    number, and so is anything else that is not a real number (dates,
    durations, complex numbers).
    """
    flat = arr.ravel()
    missing = missing_values(flat, f"Modality {name!r}")
    given = flat[~missing]
    for kind in {type(v) for v in given}:
        if _is_real_number(kind):
            continue
        example = next(v for v in given if type(v) is kind)
        if isinstance(example, (str, bytes)):
            raise TypeError(
                f"Modality {name!r} must hold real numbers; its object array holds text (e.g. "
                f"{example!r}). Convert numbers stored as text yourself (e.g. "
                "np.asarray(values, dtype=float)) and encode categories, e.g. with "
                "OneHotEncoder."
            )
        try:  # Python's own word on the value, where it has one
            float(example)
            reason = ""
        except (TypeError, ValueError) as err:
            reason = f" ({err})"
        raise TypeError(
            f"Modality {name!r} must hold real numbers; its object values include "
            f"{kind.__name__} values (e.g. {example!r}){reason}. Encode them first (e.g. "
            "OneHotEncoder for categories, numeric features for dates, real and imaginary parts "
            "for complex values)."
        )
    out = np.full(flat.shape, np.nan)
    try:
        out[~missing] = given.astype(np.float64)
    except OverflowError as err:  # a Python int beyond float64
        raise ValueError(
            f"Modality {name!r} contains inf (a value too large for float32: {err}). Replace "
            "or drop it first."
        ) from err
    return out.reshape(arr.shape)


def absent_rows(values: np.ndarray) -> np.ndarray:
    """Rows in which a validated modality is absent (all NaN), as a boolean vector.

    Parameters
    ----------
    values : ndarray of shape (n_samples, n_features)
        A modality as the checks of this module return it: each row is either
        all NaN or free of NaN.

    Returns
    -------
    ndarray of bool of shape (n_samples,)
    """
    return np.isnan(values[:, 0])


def absent_modalities(arrays: Sequence[np.ndarray]) -> np.ndarray:
    """Which modality each row lacks, as a boolean matrix (:func:`absent_rows` per modality).

    Parameters
    ----------
    arrays : sequence of ndarray
        Validated modalities, in order, with the same rows.

    Returns
    -------
    ndarray of bool of shape (n_samples, n_modalities)
    """
    return np.column_stack([absent_rows(a) for a in arrays])


def check_presence(data: Mapping[str, np.ndarray], labels: np.ndarray | None = None) -> None:
    """Reject rows in which every modality is absent.

    Parameters
    ----------
    data : mapping of str to ndarray
        Validated modalities, in order.
    labels : ndarray, optional
        The rows' index labels (a DataFrame's index), named in the message
        beside the positions.

    Raises
    ------
    ValueError
        Naming the rows (positions, and index labels where given) with no
        modality present.
    """
    absent = np.column_stack([absent_rows(v) for v in data.values()])
    empty = np.flatnonzero(absent.all(axis=1))
    if empty.size:
        named = "" if labels is None else f" (index {np.asarray(labels)[empty[:5]].tolist()})"
        raise ValueError(
            f"{empty.size} row(s) have every modality absent (all NaN), e.g. rows at positions "
            f"{empty[:5].tolist()}{named}; a sample needs at least one modality. Drop those "
            "rows."
        )


def _normalise_selector(
    selector: object,
    columns: pd.Index | None,
    n_columns: int,
    name: str,
    refuse_ambiguous: bool = False,
) -> np.ndarray:
    """Turn a column selector (names, positions, slice or mask) into ordered positions.

    ``refuse_ambiguous``: refuse integers that are also other columns' labels
    (:func:`_refuse_labels_read_as_positions`), when a table is fitted; a
    layout stored by an earlier fit is read as it was.
    """
    if isinstance(selector, slice):
        bounds = (selector.start, selector.stop, selector.step)
        if columns is None and not all(
            v is None or isinstance(v, (int, np.integer)) for v in bounds
        ):
            raise TypeError(
                f"Modality {name!r} selects columns by {selector!r}, but X is a NumPy array "
                "without column names: a slice of its columns needs integer (or no) bounds."
            )
        if columns is not None and not all(
            v is None or isinstance(v, (int, np.integer)) for v in (selector.start, selector.stop)
        ):
            # label-based slice, end inclusive like DataFrame.loc
            selector = columns.slice_indexer(selector.start, selector.stop, selector.step)
        return np.arange(n_columns)[selector]
    if (
        isinstance(columns, pd.MultiIndex)
        and isinstance(selector, tuple)
        and all(isinstance(v, Hashable) for v in selector)
        and selector in columns
    ):
        if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in selector):
            raise ValueError(
                f"Modality {name!r} selects {selector!r}, which is both a column of X's "
                "MultiIndex and a tuple of positions. Give a list: [positions...] for "
                f"positions, or [{selector!r}] for that one column."
            )
        selector = [selector]  # one (modality, feature) column, not a sequence of positions
    if isinstance(selector, (list, tuple, pd.Index)) and any(
        isinstance(v, (str, tuple, list)) for v in selector
    ):
        # names, looked up as given: NumPy would turn a list of tuples into a 2-D array and
        # mixed names into strings
        return _label_positions(list(selector), columns, name)
    sel = np.asarray(selector)
    if sel.ndim == 0:
        sel = sel.reshape(1)
    if sel.size == 0:  # no column: the partition check names the modality
        return np.array([], dtype=np.intp)
    if sel.dtype.kind == "b":
        if sel.shape != (n_columns,):
            raise ValueError(
                f"Boolean column mask of modality {name!r} has length {sel.shape[0]}; "
                f"expected one entry per column ({n_columns})."
            )
        return np.flatnonzero(sel)
    if sel.dtype.kind in "iu":
        if sel.size and (sel.min() < -n_columns or sel.max() >= n_columns):
            labels = (
                " X's column labels are numbers too, and integers in a selector are read as "
                "positions (as a ColumnTransformer reads them): give the columns' positions, "
                f"e.g. [list(X.columns).index(c) for c in {sel.tolist()}], or string names "
                "(X.columns = X.columns.astype(str))."
                if columns is not None and set(sel.tolist()) <= set(columns.tolist())
                else ""
            )
            raise ValueError(
                f"Column indices of modality {name!r} out of range for {n_columns} columns: "
                f"{sel.tolist()}.{labels}"
            )
        positions = sel % n_columns
        if refuse_ambiguous:
            _refuse_labels_read_as_positions(sel, positions, columns, name)
        return positions
    return _label_positions(sel.tolist(), columns, name)


def _refuse_labels_read_as_positions(
    selector: np.ndarray, positions: np.ndarray, columns: pd.Index | None, name: str
) -> None:
    """Refuse integers that are positions and also other columns' integer labels.

    An all-integer selector names positions; where the table's labels are
    integers too and one of them names another column than its position
    (labels ``[3, 2, 1, 0]``, selector ``[0, 1]``), the reader cannot tell
    which was meant, and reading it as the other would select the wrong
    columns without a word. A label the table repeats names no one column
    (``pd.concat`` of unnamed frames), so positions are the only reading.
    """
    if columns is None or isinstance(columns, pd.MultiIndex):
        return
    clashes = []
    for value, position in zip(selector.tolist(), positions.tolist(), strict=True):
        if value not in columns:
            continue
        where = columns.get_loc(value)
        if isinstance(where, int) and where != position and not isinstance(columns[where], bool):
            clashes.append(value)
    if clashes:
        raise ValueError(
            f"Modality {name!r} selects {selector.tolist()[:10]}: integers are read as "
            f"positions, but {clashes[:5]} also label other columns of X (at other positions), "
            "so the selection is ambiguous. Name the columns with strings "
            "(X.columns = X.columns.astype(str)) and select by name, or give a boolean mask."
        )


def _label_positions(labels: list, columns: pd.Index | None, name: str) -> np.ndarray:
    """Positions of the columns named ``labels`` (each name one column of ``columns``)."""
    if columns is None:
        raise TypeError(
            f"Modality {name!r} selects columns by name ({labels[:5]}), but X is a "
            "NumPy array without column names; use integer positions, a slice or a boolean "
            "mask, or pass a pandas DataFrame."
        )
    unhashable = [label for label in labels if not isinstance(label, Hashable)]
    if unhashable:
        raise TypeError(
            f"Modality {name!r} selects columns by {unhashable[:3]}, which cannot be column "
            "names; give each column as its name (a tuple for a MultiIndex column), its "
            "position, or use a slice or a boolean mask."
        )
    full = columns.nlevels
    missing = [
        label
        for label in labels
        if label not in columns
        or (full > 1 and not (isinstance(label, tuple) and len(label) == full))
    ]
    if missing:
        raise ValueError(
            f"Modality {name!r} names columns {missing[:5]} that are not in X. "
            f"Available columns start with {list(columns[:5])}."
            + (
                f" A MultiIndex column is named by its full tuple of {full} levels."
                if full > 1
                else ""
            )
        )
    if not columns.is_unique:
        shared = columns[columns.duplicated()]
        named = [label for label in labels if label in shared]
        if named:
            raise ValueError(
                f"Modality {name!r} names columns {named[:5]} that X has more than once, so "
                "the name does not say which column is meant. Rename the duplicated columns, "
                "or select columns by position."
            )
    # each label is one column (checked above), so get_indexer_for gives one position per
    # label even where other columns repeat (get_loc would give a slice or a mask there)
    return np.asarray(columns.get_indexer_for(labels), dtype=np.intp)


#: True while an estimator fits copies of itself on parts of its data (cross-fitting): their
#: layout and settings are the ones the caller's fit has already warned about
_FITTING_PARTS: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "sk_i2moe_fitting_parts", default=False
)


@contextlib.contextmanager
def fitting_parts() -> Iterator[None]:
    """Within this context, fits are an estimator's fits on parts of its own data.

    Warnings about the data's layout or the estimator's settings (one
    modality; options a ``**kwargs`` backbone is not given) are then not
    repeated: the caller's fit gave them (per thread and task: a
    ``contextvars`` variable; :func:`fitting_a_part`).
    """
    token = _FITTING_PARTS.set(True)
    try:
        yield
    finally:
        _FITTING_PARTS.reset(token)


def fitting_a_part() -> bool:
    """Whether this fit is an estimator's fit on part of its own data (:func:`fitting_parts`).

    Its warnings about the estimator's settings are the caller's fit's to give.
    """
    return _FITTING_PARTS.get()


def _warn_if_one_modality(names: tuple, table: bool) -> None:
    """Say that a one-modality fit has no interactions between modalities to weigh."""
    if len(names) != 1 or fitting_a_part():
        return
    how = (
        " X was read as one table without modality prefixes; if its columns hold several "
        "modalities, pass a dict of arrays, 'name__feature' column prefixes or "
        "modalities={name: columns} (a meta-estimator such as BaggingClassifier passes a "
        "NumPy array, without column names: give modalities= as column positions)."
        if table
        else ""
    )
    warn(
        f"X has one modality ({names[0]!r}): the synergy and redundancy experts have no "
        "second modality to combine, so the interaction weights do not describe "
        f"interactions between modalities.{how}",
        UserWarning,
    )


def _split_by_prefix(columns: pd.Index) -> dict[str, np.ndarray]:
    """Group ``name__feature`` columns by prefix, in first-seen order."""
    labels = [str(c) for c in columns]
    prefixed = [_PREFIX_SEP in c for c in labels]
    if not any(prefixed):
        return {SINGLE_MODALITY: np.arange(len(labels))}
    if not all(prefixed):
        bare = [c for c, p in zip(labels, prefixed) if not p]
        raise ValueError(
            f"Cannot infer modalities: columns {bare[:5]} have no 'modality__' prefix while "
            "others do. Prefix every column (ColumnTransformer does this with its "
            "transformer names) or pass modalities={name: columns}."
        )
    groups: dict[str, list[int]] = {}
    for i, c in enumerate(labels):
        prefix = c.split(_PREFIX_SEP, 1)[0]
        if not prefix:
            raise ValueError(
                f"Column {c!r} starts with the separator {_PREFIX_SEP!r}: its modality name "
                "would be empty. Name the modality before the separator (e.g. 'labs__hb'), "
                "or pass modalities={name: columns}."
            )
        groups.setdefault(prefix, []).append(i)
    return {k: np.asarray(v) for k, v in groups.items()}


def _split_by_level(columns: pd.MultiIndex) -> dict[str, np.ndarray]:
    """Group ``(modality, feature)`` MultiIndex columns by their first level, first-seen order."""
    if columns.nlevels != 2:
        raise ValueError(
            f"DataFrame columns are a MultiIndex with {columns.nlevels} levels; expected 2, "
            "(modality, feature). Drop the extra levels, or pass modalities={name: columns}."
        )
    groups: dict[str, list[int]] = {}
    for i, (modality, _) in enumerate(columns):
        groups.setdefault(_check_name(modality), []).append(i)
    return {k: np.asarray(v) for k, v in groups.items()}


@dataclass(frozen=True)
class ModalitySpec:
    """How ``X`` was laid out at fit time, so later calls can be checked against it.

    Attributes
    ----------
    names : tuple of str
        Modality names in order.
    n_features : tuple of int
        Features per modality.
    columns : tuple of ndarray or None
        For 2-D input: each modality's column positions; None for mappings.
    feature_names : ndarray or None
        Column names of a DataFrame input, whatever their type (a DataFrame
        at prediction must have the same ones).
    n_columns : int
        Total number of input columns (``n_features_in_``).
    owner : str
        Name of the estimator, for error messages.
    modality_feature_names : tuple of (ndarray or None), or None
        For mapping input: each modality's column names, whatever their
        type, when it was a DataFrame (None for an array; a DataFrame at
        prediction must have the same ones); None for 2-D input.
    """

    names: tuple[str, ...]
    n_features: tuple[int, ...]
    columns: tuple[np.ndarray, ...] | None
    feature_names: np.ndarray | None
    n_columns: int
    owner: str
    modality_feature_names: tuple[np.ndarray | None, ...] | None = None

    @property
    def feature_names_in(self) -> np.ndarray | None:
        """``feature_names`` when every one is a string (``feature_names_in_``), else None."""
        return _string_names(self.feature_names)

    @classmethod
    def from_input(
        cls, X: object, modalities: Mapping | None, owner: str
    ) -> tuple[ModalitySpec, dict[str, np.ndarray]]:
        """Infer the layout from training data and convert it.

        Parameters
        ----------
        X : mapping, DataFrame or array-like
            Training input.
        modalities : mapping of str to column selector, or None
            Column groups for 2-D input.
        owner : str
            Name of the estimator, for error messages.

        Returns
        -------
        spec : ModalitySpec
        data : dict of str to ndarray
        """
        X = _pandas_input(X)
        _reject_sparse(X)
        if isinstance(X, Mapping):
            if modalities is not None:
                raise ValueError(
                    "modalities= selects columns of a DataFrame or 2-D array, but X is already "
                    f"a mapping of modalities ({list(X)}). Set modalities=None."
                )
            data = _convert_mapping(X, fitting=True)
            names = tuple(data)
            _warn_if_one_modality(names, table=False)
            return cls(
                names,
                tuple(a.shape[1] for a in data.values()),
                None,
                None,
                sum(a.shape[1] for a in data.values()),
                owner,
                tuple(_column_names(X[n]) for n in names),
            ), data
        frame = X if isinstance(X, pd.DataFrame) else None
        arr = frame if frame is not None else _table(X)
        n_columns = arr.shape[1]
        columns_index = frame.columns if frame is not None else None
        groups = column_groups(modalities, columns_index, n_columns, refuse_ambiguous=True)
        _warn_if_one_modality(tuple(groups), table=modalities is None)
        feature_names = np.array(columns_index, dtype=object) if columns_index is not None else None
        spec = cls(
            tuple(groups),
            tuple(len(g) for g in groups.values()),
            tuple(groups.values()),
            feature_names,
            n_columns,
            owner,
        )
        return spec, spec._slice(arr, fitting=True)

    def transform(self, X: object) -> dict[str, np.ndarray]:
        """Convert new data laid out like the training data.

        Parameters
        ----------
        X : mapping, DataFrame or array-like
            Same form as at fit time.

        Returns
        -------
        dict of str to ndarray
            ``{modality: float32 array}`` in the fitted order.
        """
        X = _pandas_input(X)
        _reject_sparse(X)
        if self.columns is None:
            if not isinstance(X, Mapping):
                raise TypeError(
                    f"The model was fitted on a mapping of modalities {list(self.names)}; got "
                    f"{_describe(X)}. Pass a dict (or SliceDict) with the same keys."
                )
            missing = [n for n in self.names if n not in X]
            extra = [n for n in X if n not in self.names]
            if missing or extra:
                raise ValueError(
                    f"Modalities do not match those seen in fit {list(self.names)}: missing "
                    f"{missing}, unexpected {extra}. Pass exactly the fitted modalities."
                )
            data = _convert_mapping({n: X[n] for n in self.names})
            fitted_names = self.modality_feature_names or (None,) * len(self.names)
            for name, fitted in zip(self.names, fitted_names):
                _check_feature_names(
                    _column_names(X[name]), fitted, f"Modality {name!r}", self.owner
                )
            for name, expected in zip(self.names, self.n_features):
                got = data[name].shape[1]
                if got != expected:
                    raise ValueError(
                        f"Modality {name!r} has {got} features, but the model was fitted with "
                        f"{expected}. Pass the same features as in fit."
                    )
            return data
        if isinstance(X, Mapping):
            raise TypeError(
                f"The model was fitted on a 2-D table; got a mapping with keys {list(X)}. "
                "Pass the same kind of table as in fit."
            )
        if isinstance(X, pd.DataFrame):
            # fitted on an array, the columns are taken by position, with scikit-learn's
            # warning where they have feature names (a pipeline's pandas output, say)
            _check_feature_names(_column_names(X), self.feature_names, "X", self.owner)
            arr: object = X
        else:
            arr = _table(X)
            _check_feature_names(None, self.feature_names, "X", self.owner)
        if arr.shape[1] != self.n_columns:
            raise ValueError(
                f"X has {arr.shape[1]} features, but {self.owner} is expecting "
                f"{self.n_columns} features as input. Pass the same columns as in fit."
            )
        return self._slice(arr)

    def _slice(self, arr: object, fitting: bool = False) -> dict[str, np.ndarray]:
        """Cut a validated table into the modalities (``fitting``: as :func:`_as_float32`)."""
        take = (
            (lambda idx: arr.iloc[:, idx])
            if isinstance(arr, pd.DataFrame)
            else (lambda idx: arr[:, idx])
        )
        data = {
            name: _as_float32(take(idx), name, fitting)
            for name, idx in zip(self.names, self.columns)
        }
        check_presence(data, row_labels(arr))
        return data


def refuse_reordered_rows(
    rows: np.ndarray | None, y: object, sample_weight: object, groups: object = None
) -> None:
    """Refuse a ``y``, weights or groups whose row index holds ``X``'s rows in another order.

    Rows are paired by position (as in scikit-learn), so a ``y`` (or
    ``sample_weight``) Series sorted otherwise than ``X`` would give each
    sample another's target (or weight); the modalities of one dict are
    refused for the same reason. Indexes with other labels (``X`` re-indexed
    by patient id, say) pair by position, as they always did, and so do
    parts of such a pair whose label sets differ (the folds of a
    cross-validation). Labels alone cannot tell a Series taken from ``X``'s
    table before it was shuffled from one built in ``X``'s order with
    positions for labels, so the message gives the remedy for each.

    Parameters
    ----------
    rows : ndarray or None
        ``X``'s row labels (:func:`row_labels`), None when it has none.
    y : object
        The targets; only a pandas object has row labels.
    sample_weight : object
        The sample weights (or None); likewise.
    groups : object, default=None
        The samples' group labels (:func:`~sk_i2moe.inspection.interaction_report`); likewise.
    """
    if rows is None:
        return
    given = pd.Index(rows, dtype=object)
    for name, values in (("y", y), ("sample_weight", sample_weight), ("groups", groups)):
        index = getattr(values, "index", None)
        if not isinstance(index, pd.Index) or len(index) != len(rows):
            continue
        if index.equals(given) or pd.Index(index, dtype=object).equals(given):
            continue
        if _label_counts(index) == _label_counts(rows):
            what = {"y": "target", "sample_weight": "weight", "groups": "group"}[name]
            raise ValueError(
                f"{name}'s row index holds the labels of X's rows in another order. Rows are "
                "paired by position, as in scikit-learn, so if those labels name the same "
                f"samples each sample would get another's {what}. If {name} comes from the "
                f"same table as X, align it: {name} = {name}.loc[X.index] (for a dict, the "
                f"index of its DataFrame modalities). If {name} is already in X's row order "
                "and its index only numbers the positions (as pd.Series(values) does), do not "
                f"reindex it: pass {name}.to_numpy() or {name}.set_axis(X.index)."
            )


def column_groups(
    modalities: Mapping | None,
    columns: pd.Index | None,
    n_columns: int,
    refuse_ambiguous: bool = False,
) -> dict[str, np.ndarray]:
    """Each modality's column positions in a table: ``modalities=``, or the columns' prefixes.

    Parameters
    ----------
    modalities : mapping of str to column selector, or None
        The estimator's ``modalities``; None splits a MultiIndex by its first
        level, other column names by their ``<modality>__`` prefix, and
        takes an array without names as one modality.
    columns : pandas.Index or None
        The table's column labels (None for an array).
    n_columns : int
        The table's number of columns.
    refuse_ambiguous : bool, default=False
        Refuse integer positions that also label other columns (a fit; not
        a layout stored by an earlier one).

    Returns
    -------
    dict of str to ndarray
        Positions per modality, in the modalities' order.
    """
    if modalities is None:
        if isinstance(columns, pd.MultiIndex):
            return _split_by_level(columns)
        if columns is not None:
            return _split_by_prefix(columns)
        return {SINGLE_MODALITY: np.arange(n_columns)}
    if not isinstance(modalities, Mapping) or not modalities:
        raise TypeError(
            f"modalities must be a non-empty mapping {{name: columns}}; got "
            f"{_describe(modalities)}."
        )
    groups = {
        _check_name(k): _normalise_selector(v, columns, n_columns, str(k), refuse_ambiguous)
        for k, v in modalities.items()
    }
    _check_no_repeats(groups, columns)
    _check_partition(groups, n_columns, columns)
    return groups


def row_labels(X: object) -> np.ndarray | None:
    """The row index of a DataFrame input (or of a mapping's first DataFrame modality).

    Parameters
    ----------
    X : object
        Input in any accepted form.

    Returns
    -------
    ndarray or None
        The labels (patient ids, say) as an object array; None for input
        without a row index.
    """
    if isinstance(X, pd.DataFrame):
        return np.array(X.index, dtype=object)  # a copy: pandas' buffer is writeable
    if isinstance(X, Mapping):
        for value in X.values():
            if isinstance(value, pd.DataFrame):
                return np.array(value.index, dtype=object)
    return None


def _reject_sparse(X: object) -> None:
    """Raise a TypeError for SciPy sparse input (dok arrays are mappings too) or a masked array."""
    if sparse.issparse(X):
        raise TypeError(
            f"X is a sparse {type(X).__name__}; sparse input is not supported. Convert it "
            "with X.toarray() (or reduce it first, e.g. with TruncatedSVD)."
        )
    _refuse_masked(X, "X")


def _refuse_masked(values: object, what: str) -> None:
    """Raise a TypeError for a NumPy masked array, whose mask ``np.asarray`` would drop."""
    if isinstance(values, np.ma.MaskedArray):
        raise TypeError(
            f"{what} is a masked array; its mask would be dropped and the hidden values read "
            "as measurements. Mark missing values with NaN instead (a row of NaN is an absent "
            "modality): np.ma.filled(values.astype(float), np.nan)."
        )


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not name:
        raise TypeError(f"Modality names must be non-empty strings; got {name!r}.")
    return name


def _table(X: object) -> np.ndarray:
    """Check that non-mapping input is a 2-D table and return it as an array."""
    if isinstance(X, pd.Series):
        arr = X
    else:
        try:
            arr = np.asarray(X)
        except Exception as err:  # ragged lists and other unconvertible input
            raise TypeError(
                f"X must be a mapping of modality arrays, a DataFrame or a 2-D array; got "
                f"{_describe(X)} ({err})."
            ) from err
    if arr.ndim != 2:
        raise ValueError(
            f"X must be 2-D (n_samples, n_features) or a mapping of modalities; got "
            f"{_describe(X)} with {arr.ndim} dimension(s)."
            + (
                " Reshape your data: X.reshape(-1, 1) for a single feature, or "
                "X.reshape(1, -1) for a single sample."
                if arr.ndim == 1
                else ""
            )
        )
    return arr


def _column_names(values: object) -> np.ndarray | None:
    """A DataFrame's column names as an object array; None for anything else."""
    if isinstance(values, pd.DataFrame):
        return np.array(values.columns, dtype=object)
    return None


def _string_names(names: np.ndarray | None) -> np.ndarray | None:
    """``names`` when every one is a string, else None: scikit-learn's rule for feature names.

    A DataFrame whose columns are integers (a ``RangeIndex``, say) has no
    feature names in scikit-learn's sense (no ``feature_names_in_``, and no
    warning when an array without names comes later).
    """
    if names is None or not all(isinstance(name, str) for name in names):
        return None
    return names


def _check_feature_names(
    got: np.ndarray | None, fitted: np.ndarray | None, what: str, owner: str
) -> None:
    """Compare a DataFrame's column labels with those seen in fit.

    Labels of any type (integers too) that differ (renamed, reordered,
    missing) are an error, missing labels (NaN, None, ``pd.NA``, ``NaT``)
    matching each other and text labels matching the fitted ones written as
    text (:func:`_same_as_text`); labels on one side only
    are a warning where they are feature names in scikit-learn's sense (all
    strings): the columns may be in another order without anyone knowing.
    """
    if got is not None and fitted is not None:
        if not _same_labels(got, fitted) and not _same_as_text(got, fitted):
            _refuse_other_columns(got, fitted, what)
        return
    got, fitted = _string_names(got), _string_names(fitted)
    if got is None and fitted is None:
        return
    if got is None:
        warn(
            f"{what} does not have valid feature names, but {owner} was fitted with feature "
            "names; its columns are taken to be in the fitted order. Pass a DataFrame with "
            "the fitted columns to have them checked.",
            UserWarning,
        )
        return
    warn(
        f"{what} has feature names, but {owner} was fitted without feature names; they "
        "are not checked.",
        UserWarning,
    )


def _same_labels(got: np.ndarray, fitted: np.ndarray) -> bool:
    """Whether two column-label arrays are equal in order, missing labels matching each other."""
    return len(got) == len(fitted) and all(
        _same_label(_label_key(a), _label_key(b)) for a, b in zip(got, fitted)
    )


def _same_label(a: object, b: object) -> bool:
    """Whether two label keys are equal (a tuple equals only a tuple; no array comparisons)."""
    if isinstance(a, tuple) or isinstance(b, tuple):
        return isinstance(a, tuple) and isinstance(b, tuple) and a == b
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


def _same_as_text(got: np.ndarray, fitted: np.ndarray) -> bool:
    """Whether text labels are the fitted non-text labels written as text, in order.

    A polars frame names its columns by text: the columns ``0, 1, 2`` of the
    pandas frame a model was fitted on are ``"0", "1", "2"`` there.
    """
    if not all(isinstance(label, str) for label in got) or all(
        isinstance(label, str) for label in fitted
    ):
        return False
    return len(got) == len(fitted) and all(a == str(b) for a, b in zip(got, fitted))


def _missing_label(label: object) -> bool:
    """Whether a column label is a missing value (NaN, None, ``pd.NA``, ``NaT``)."""
    if isinstance(label, tuple) or not (label is None or pd.api.types.is_scalar(label)):
        return False
    try:
        return bool(pd.isna(label))
    except (TypeError, ValueError):
        return False


def _refuse_other_columns(got: np.ndarray, fitted: np.ndarray, what: str) -> None:
    """Raise the error for column labels that are not the fitted ones, saying how they differ."""
    fitted_keys, got_keys = {_label_key(c) for c in fitted}, {_label_key(c) for c in got}
    missing = [c for c in fitted if _label_key(c) not in got_keys]
    unexpected = [c for c in got if _label_key(c) not in fitted_keys]
    if missing or unexpected:
        order = ""
    elif _label_counts(got) == _label_counts(fitted):
        order = ", same names in another order"
    else:
        order = ", names repeated another number of times"
    raise ValueError(
        f"{what}'s columns differ from those seen in fit (missing {missing[:5]}, "
        f"unexpected {unexpected[:5]}{order}). Pass the fitted columns in the fitted order: "
        f"{list(fitted[:5])}{' ...' if len(fitted) > 5 else ''}."
    )


def _label_counts(labels: object) -> Counter:
    """How often each label occurs (:func:`_label_key`: missing labels counted together)."""
    return Counter(map(_label_key, labels))


def _label_key(label: object) -> object:
    """A comparable, hashable key for a label: every missing value the same key, in tuples too."""
    if isinstance(label, tuple):
        return tuple(_label_key(part) for part in label)
    return ("missing label",) if _missing_label(label) else label


def _check_no_repeats(groups: dict[str, np.ndarray], columns: pd.Index | None) -> None:
    """A modality lists each of its columns once."""
    label = (lambda i: columns[i]) if columns is not None else (lambda i: i)
    for name, idx in groups.items():
        values, counts = np.unique(idx, return_counts=True)
        repeated = values[counts > 1]
        if repeated.size:
            raise ValueError(
                f"Modality {name!r} lists columns {[label(i) for i in repeated[:5]]} more than "
                "once; list each column once."
            )


def _check_partition(
    groups: dict[str, np.ndarray], n_columns: int, columns: pd.Index | None
) -> None:
    """Every column belongs to exactly one modality; no modality is empty."""
    label = (lambda i: columns[i]) if columns is not None else (lambda i: i)
    for name, idx in groups.items():
        if len(idx) == 0:
            raise ValueError(f"Modality {name!r} selects no columns; expected at least 1.")
    counts = np.bincount(np.concatenate(list(groups.values())), minlength=n_columns)
    shared = np.flatnonzero(counts > 1)
    if shared.size:
        raise ValueError(
            f"Columns {[label(i) for i in shared[:5]]} are assigned to more than one modality; "
            "each column must belong to exactly one."
        )
    unused = np.flatnonzero(counts == 0)
    if unused.size:
        raise ValueError(
            f"Columns {[label(i) for i in unused[:5]]} belong to no modality; add them to one "
            "or drop them from X explicitly (nothing is dropped silently)."
        )


def _convert_mapping(X: Mapping, fitting: bool = False) -> dict[str, np.ndarray]:
    """Validate a mapping of modality arrays (``fitting``: as :func:`_as_float32`)."""
    if not X:
        raise ValueError("X is an empty mapping; expected at least one modality.")
    data = {_check_name(k): _as_float32(v, k, fitting) for k, v in X.items()}
    counts = {k: v.shape[0] for k, v in data.items()}
    if len(set(counts.values())) > 1:
        raise ValueError(
            f"All modalities must have the same number of samples; got {counts}. "
            "Align the rows of every modality."
        )
    _check_aligned(X)
    check_presence(data, row_labels(X))
    return data


def _check_aligned(X: Mapping) -> None:
    """DataFrame modalities must carry the same row index in the same order."""
    indexed = [(k, v.index) for k, v in X.items() if isinstance(v, pd.DataFrame)]
    if len(indexed) < 2:
        return
    first_name, first = indexed[0]
    for name, index in indexed[1:]:
        if index.equals(first):
            continue
        counts, first_counts = _label_counts(index), _label_counts(first)
        if counts == first_counts:
            detail = "the same row labels in another order"
        else:
            only = list((counts - first_counts).elements())[:3]
            elsewhere = list((first_counts - counts).elements())[:3]
            detail = (
                f"different row labels (e.g. {only} more often in {name!r}, {elsewhere} more "
                f"often in {first_name!r})"
            )
        raise ValueError(
            f"Modalities {first_name!r} and {name!r} are DataFrames with {detail}; rows are "
            "paired by position, so they must be the same patients in the same order. Align "
            f"them first, e.g. X = {{k: v.loc[X[{first_name!r}].index] for k, v in X.items()}}."
        )


def check_sample_weight(sample_weight: object, n_samples: int) -> np.ndarray:
    """Validate ``sample_weight``: None gives ones; else 1-D, finite, non-negative, positive sum.

    Parameters
    ----------
    sample_weight : array-like or None
        Per-sample loss weights.
    n_samples : int
        Number of samples in X.

    Returns
    -------
    ndarray of float64
        The weights divided by the largest: their ratios, kept in float64
        until the loss weights are made from them (:func:`float32_ratios`),
        so that class weights multiply the exact ratios.
    """
    if sample_weight is None:
        return np.ones(n_samples)
    w = np.asarray(sample_weight)
    if w.dtype.kind not in "biuf":
        raise TypeError(f"sample_weight must be numeric; got dtype {w.dtype}.")
    w = w.astype(np.float64)
    if w.ndim != 1 or w.shape[0] != n_samples:
        raise ValueError(f"sample_weight must have shape ({n_samples},) to match X; got {w.shape}.")
    if not np.isfinite(w).all():
        raise ValueError("sample_weight contains NaN or inf; every weight must be finite.")
    if (w < 0).any():
        raise ValueError(
            f"sample_weight has {int((w < 0).sum())} negative values; weights must be >= 0."
        )
    if not (w > 0).any():  # not w.sum(): weights near 1e308 overflow it
        raise ValueError("sample_weight is all zero; at least one sample needs a positive weight.")
    return w / w.max()


def float32_ratios(weights: np.ndarray) -> np.ndarray:
    """Non-negative weights as float32 loss weights in the same ratios.

    The losses are weighted means over each batch, so a factor common to all
    weights changes nothing: the weights are divided by the mean of the
    positive ones, which weights as large as 1e37 or as small as 1e-50 would
    not survive in float32 otherwise. A positive weight still too small for
    float32 next to the others is held at float32's smallest positive value,
    so that its row stays in the fit (a weight of 0 leaves a row out), with a
    weight next to nothing.

    Parameters
    ----------
    weights : ndarray
        Finite, non-negative, at least one positive (computed in float64).

    Returns
    -------
    ndarray of float32

    Examples
    --------
    >>> from sk_i2moe._modalities import float32_ratios
    >>> float32_ratios(np.array([0.0, 1e-300, 1.0, 3.0])).tolist()
    [0.0, 1.401298464324817e-45, 0.75, 2.25]
    """
    weights = np.asarray(weights, dtype=np.float64)
    scaled = weights / weights.max()  # no overflow in the mean below
    out = (scaled / scaled[scaled > 0].mean()).astype(np.float32)
    out[(weights > 0) & (out == 0)] = np.finfo(np.float32).smallest_subnormal
    return out
