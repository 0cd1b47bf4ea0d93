"""Preprocessing of mixed-type clinical tables into modalities.

One :class:`~sklearn.compose.ColumnTransformer` entry per modality cannot
treat the numbers and the categories of one modality differently, and a
flat transformer with one entry per (modality, type) splits a modality into
``demo_num`` and ``demo_cat``. :func:`make_modality_transformer` builds the
nested pattern instead: an outer transformer with one entry per modality,
each an inner transformer that imputes and scales the numeric columns and
imputes and one-hot encodes the others. Its pandas output has columns
``<modality>__num__<feature>`` and ``<modality>__cat__<feature>_<level>``,
which the estimators split by their first prefix, back into the intended
modalities. A row that lacks a whole modality (every one of its columns
missing) stays missing, by default, so that the estimators treat that
modality as absent for the patient instead of fitting an imputed panel
(:class:`KeepAbsentRows`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn import get_config
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.compose import ColumnTransformer as _SklearnColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils import Tags
from sklearn.utils.metadata_routing import (
    UNUSED,
    MetadataRouter,
    MethodMapping,
    process_routing,
)
from sklearn.utils.validation import (
    _check_feature_names_in,
    check_consistent_length,
    check_is_fitted,
    validate_data,
)

from ._modalities import (
    _is_real_number,
    _normalise_selector,
    _object_numbers,
    _pandas_input,
    missing_values,
)
from ._warn import warn

__all__ = ["KeepAbsentRows", "make_modality_transformer"]


class KeepAbsentRows(TransformerMixin, BaseEstimator):
    """Apply a transformer to the rows that have a modality; keep the others missing.

    A row whose columns are all missing (NaN or None) lacks the modality.
    ``transformer`` is fitted on the other rows only (so a lacking patient
    does not shift an imputer's median or a scaler's scale) and transforms
    only them, so it need not accept missing values; a lacking row's outputs
    are all NaN, which the estimators read as an absent modality (see the
    missing-modalities guide). A sparse output is made dense.

    Metadata such as ``sample_weight`` reaches ``transformer`` restricted to
    the same rows: passed to :meth:`fit` directly, or routed to it when
    scikit-learn's metadata routing is enabled and ``transformer`` requests
    it (e.g. ``StandardScaler().set_fit_request(sample_weight=True)``).

    Parameters
    ----------
    transformer : transformer
        The transformer of one modality's columns (cloned when fitted).
    modality : str, optional
        The modality's name, for error messages
        (:func:`make_modality_transformer` sets it).

    Attributes
    ----------
    transformer_ : transformer
        The fitted clone.
    n_features_in_ : int
        Number of input columns.
    feature_names_in_ : ndarray of str
        Input column names, when fitted on a DataFrame.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sk_i2moe.preprocessing import KeepAbsentRows
    >>> panel = pd.DataFrame({"crp": [1.0, np.nan, 3.0], "wbc": [4.0, np.nan, 8.0]})
    >>> KeepAbsentRows(StandardScaler()).fit_transform(panel)
    array([[-1., -1.],
           [nan, nan],
           [ 1.,  1.]])
    """

    def __init__(self, transformer: BaseEstimator, modality: str | None = None) -> None:
        self.transformer = transformer
        self.modality = modality

    def _lacking(self, X: object) -> np.ndarray:
        """Rows of ``X`` whose every column is missing."""
        return missing_values(pd.DataFrame(X), _holder(self.modality)).all(axis=1)

    def __sklearn_tags__(self) -> Tags:
        """Missing values are what this transformer is for."""
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    @staticmethod
    def _table(X: object) -> object:
        """``X`` as a DataFrame or a 2-D array (any dtype), or a clear error."""
        if sp.issparse(X):
            raise TypeError(
                "KeepAbsentRows does not accept sparse input: a sparse matrix marks no row as "
                "missing. Pass a dense array or DataFrame (e.g. X.toarray())."
            )
        X = _pandas_input(X)  # a polars frame keeps its column names
        table = X if isinstance(X, pd.DataFrame) else np.asarray(X)
        if table.ndim != 2:
            raise ValueError(
                f"Expected a 2-D array of one modality's columns, got {table.ndim}-D (shape "
                f"{table.shape}). Reshape your data either using array.reshape(-1, 1) if it "
                "has a single feature or array.reshape(1, -1) if it is a single sample."
            )
        if table.shape[1] == 0:
            raise ValueError(
                f"0 feature(s) (shape={table.shape}) while a minimum of 1 is required by "
                "KeepAbsentRows: a modality needs at least one column."
            )
        return table

    def fit(self, X: object, y: object = None, **params: object) -> KeepAbsentRows:
        """Fit ``transformer`` on the rows that have the modality.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            One modality's columns.
        y : array-like of shape (n_samples,), optional
            Targets, for a transformer that uses them (``TargetEncoder``,
            ``SelectKBest``): it gets the rows that have the modality.
        **params : dict
            Metadata for ``transformer``'s ``fit`` (e.g. ``sample_weight``);
            a value with one entry per row gets the rows that have the
            modality. With metadata routing enabled, only what
            ``transformer`` requests is accepted.

        Returns
        -------
        KeepAbsentRows

        Raises
        ------
        ValueError
            When every row lacks the modality, ``X`` is not 2-D or has no
            column, or ``sample_weight`` has not one entry per row; with
            metadata routing, scikit-learn's error for metadata
            ``transformer`` does not request.
        TypeError
            For sparse ``X``.
        """
        self._fit(X, y, params, transform=False)
        return self

    def fit_transform(self, X: object, y: object = None, **params: object) -> np.ndarray:
        """Fit as :meth:`fit` and transform ``X``, with the transformer's own ``fit_transform``.

        A transformer whose ``fit_transform`` differs from fitting then
        transforming (``TargetEncoder`` cross-fits its training rows) keeps
        its behaviour.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            One modality's columns.
        y : array-like of shape (n_samples,), optional
            Targets, as in :meth:`fit`.
        **params : dict
            Metadata for ``transformer``'s ``fit_transform``, as in :meth:`fit`.

        Returns
        -------
        ndarray of shape (n_samples, n_features_out)
        """
        return self._fit(X, y, params, transform=True)

    def get_metadata_routing(self) -> MetadataRouter:
        """The metadata that ``transformer`` requests, routed through this wrapper.

        Returns
        -------
        MetadataRouter
        """
        return MetadataRouter(owner=self).add(
            transformer=self.transformer,
            method_mapping=MethodMapping()
            .add(caller="fit", callee="fit")
            .add(caller="fit_transform", callee="fit_transform")
            .add(caller="transform", callee="transform"),
        )

    def _routed(self, method: str, params: dict, n_rows: int, rows: np.ndarray) -> dict:
        """``params`` for ``transformer``'s ``method``, per-row values cut to ``rows``.

        With metadata routing enabled, scikit-learn checks that ``transformer``
        requests each of them; without, they are passed on as given. A
        ``sample_weight`` must have one entry per row.
        """
        if get_config()["enable_metadata_routing"]:
            params = getattr(process_routing(self, method, **params).transformer, method)
        weights = params.get("sample_weight")
        if weights is not None and np.ndim(weights) > 0 and len(weights) != n_rows:
            raise ValueError(
                f"sample_weight has {len(weights)} entries but X has {n_rows} rows; give one "
                "weight per row (the rows that lack the modality included)."
            )
        return {
            key: self._rows(value, rows) if _per_row(value, n_rows) else value
            for key, value in params.items()
        }

    def _fit(self, X: object, y: object, params: dict, transform: bool) -> np.ndarray | None:
        """Fit on the rows that have the modality; their outputs too when ``transform``."""
        X = validate_data(self, self._table(X), reset=True, skip_check_array=True)
        if X.shape[0] == 0:
            raise ValueError(
                f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 is "
                "required by KeepAbsentRows."
            )
        lacking = self._lacking(X)
        if lacking.all():
            raise _no_row_has_it(X, self.modality)
        # numeric columns must stay numeric: text "nan" is not missing to the absence test
        self._numeric_at_fit = (
            [
                c
                for c in X.columns
                if pd.api.types.is_numeric_dtype(X[c]) and not pd.api.types.is_bool_dtype(X[c])
            ]
            if isinstance(X, pd.DataFrame)
            else []
        )
        rows = np.flatnonzero(~lacking)
        part = self._rows(X, rows)
        # the targets of these rows, and only when given (a transformer's fit may take no y)
        given = ()
        if y is not None:
            check_consistent_length(X, y)
            given = (self._rows(y, rows),)
        method = "fit_transform" if transform else "fit"
        routed = self._routed(method, params, len(lacking), rows)
        self.transformer_ = clone(self.transformer)
        if not transform:
            self.transformer_.fit(part, *given, **routed)
            self._n_outputs = _dense(self.transformer_.transform(part[:1])).shape[1]
            return None
        fitted = _dense(self.transformer_.fit_transform(part, *given, **routed))
        self._n_outputs = fitted.shape[1]
        out = np.full((len(lacking), self._n_outputs), np.nan)
        out[rows] = fitted
        return out

    def _numbers_again(self, X: pd.DataFrame) -> pd.DataFrame:
        """``X`` with the columns numeric at fit numeric again, or a ``TypeError``.

        A column of one record whose value is None has object dtype (pandas
        infers no number from a lone None): an object column of real numbers
        and missing values is read as numbers. Anything else is refused: text
        (such as 'nan', which is not missing to the test for absent rows),
        dates, durations.
        """
        changed = [
            c
            for c in getattr(self, "_numeric_at_fit", [])
            if c in X.columns and not pd.api.types.is_numeric_dtype(X[c])
        ]
        if not changed:
            return X
        converted = X.copy()
        refused = []
        for c in changed:
            if X[c].isna().all():  # a record whose number is missing (None, pd.NA, NaT)
                converted[c] = np.nan
                continue
            if pd.api.types.is_object_dtype(X[c]):
                try:
                    converted[c] = _object_numbers(X[c].to_numpy()[:, None], str(c))[:, 0]
                    continue
                except (TypeError, ValueError):
                    pass
            refused.append(c)
        if refused:
            raise TypeError(
                f"Columns {refused[:5]} were numeric at fit and are "
                f"{[str(X[c].dtype) for c in refused[:5]]} now, holding values that are not "
                "numbers (text such as 'nan' is not missing to the test for absent rows). "
                "Convert them back, e.g. X[cols] = X[cols].apply(pd.to_numeric, "
                "errors='coerce')."
            )
        return converted

    @staticmethod
    def _rows(X: object, rows: np.ndarray) -> object:
        """The rows ``rows`` of ``X`` (a DataFrame stays one)."""
        return X.iloc[rows] if hasattr(X, "iloc") else np.asarray(X)[rows]

    def transform(self, X: object, **params: object) -> np.ndarray:
        """Transform the rows that have the modality; NaN for the others.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            One modality's columns, as in ``fit``.
        **params : dict
            Metadata for ``transformer``'s ``transform``, as in :meth:`fit`.

        Returns
        -------
        ndarray of shape (n_samples, n_features_out)
        """
        check_is_fitted(self)
        X = validate_data(self, self._table(X), reset=False, skip_check_array=True)
        lacking = self._lacking(X)  # first: it names a signalling NaN, as at fit
        if isinstance(X, pd.DataFrame):
            X = self._numbers_again(X)
        out = np.full((len(lacking), self._n_outputs), np.nan)
        # only the rows that have the modality reach the transformer (it may refuse NaN)
        rows = np.flatnonzero(~lacking)
        routed = self._routed("transform", params, len(lacking), rows)
        if rows.size:
            out[rows] = _dense(self.transformer_.transform(self._rows(X, rows), **routed))
        return out

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        """The fitted transformer's output feature names.

        Parameters
        ----------
        input_features : array-like of str, optional
            Passed on to the fitted transformer.

        Returns
        -------
        ndarray of str
        """
        check_is_fitted(self)
        return self.transformer_.get_feature_names_out(input_features)


class _CategoricalColumns(TransformerMixin, BaseEstimator, auto_wrap_output_keys=None):
    """A modality's categorical columns as objects, every missing value as NaN.

    The first of the default categorical steps: ``SimpleImputer`` sees only
    NaN as missing in an object column, and cannot read pandas' nullable
    ``string`` or ``boolean`` columns with ``pd.NA``, nor a ``category``
    column beside a ``bool`` one. It refuses date and duration columns,
    which one-hot encoding would split one column per distinct timestamp,
    and column names that are not strings, after which the encoding names
    its output. Unlike a ``FunctionTransformer`` it is not fitted until
    ``fit`` is called, so a modality without categorical columns leaves it
    unfitted, as its other steps.

    Parameters
    ----------
    modality : str, optional
        The modality's name, for error messages.
    """

    def __init__(self, modality: str | None = None) -> None:
        self.modality = modality

    def __sklearn_tags__(self) -> Tags:
        """Missing values are what this step converts."""
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        return tags

    def fit(self, X: object, y: object = None) -> _CategoricalColumns:
        """Check the columns and record their names.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            The categorical columns.
        y : None
            Ignored.

        Returns
        -------
        _CategoricalColumns
        """
        X, kinds = self._checked(X)
        validate_data(self, X, reset=True, skip_check_array=True)
        self._text_at_fit = [c for c, (text, _) in kinds.items() if text is not None]
        self._seen = _categories(X)
        return self

    def transform(self, X: object) -> object:
        """``X`` with object dtype and NaN for every missing value.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            The categorical columns, as in ``fit``.

        Returns
        -------
        DataFrame or ndarray of object
        """
        check_is_fitted(self)
        X, kinds = self._checked(X)
        X = validate_data(self, X, reset=False, skip_check_array=True)
        turned = [
            c
            for c in getattr(self, "_text_at_fit", [])
            if c in kinds and kinds[c][0] is None and kinds[c][1] is not None
        ]
        if turned:
            examples = [kinds[c][1] for c in turned[:3]]
            raise TypeError(
                f"Modality {self.modality!r}: columns {turned[:5]} held text at fit and numbers "
                f"now (e.g. {examples}); the one-hot encoding would match no fitted "
                "category and leave every such row all zeros. Convert them back to the fitted "
                "text, e.g. X[cols] = X[cols].astype(str)."
            )
        self._warn_unseen(X)
        holder = _holder(self.modality)
        if isinstance(X, pd.DataFrame):
            return X.astype(object).where(~missing_values(X, holder), np.nan)
        values = np.asarray(X, dtype=object)
        return np.where(missing_values(values, holder), np.nan, values)

    def _warn_unseen(self, X: object) -> None:
        """Warn, naming the columns, where rows hold categories that ``fit`` did not see.

        The default encoding (``handle_unknown="ignore"``) gives such a row
        all zeros for the column: no category, not an error.
        """
        seen = getattr(self, "_seen", {})
        unseen = {}
        if isinstance(X, pd.DataFrame):
            for position, column in enumerate(X.columns):
                if column not in seen:
                    continue
                values = pd.Series(X.iloc[:, position].dropna().to_numpy(dtype=object))
                new = values[~values.isin(list(seen[column]))].tolist()
                if new:
                    unseen[column] = new
        if unseen:
            column, values = next(iter(unseen.items()))
            warn(
                f"Modality {self.modality!r}: rows of columns {list(unseen)[:5]} hold categories "
                f"not seen in fit ({len(values)} row(s) of {column!r}, e.g. {values[0]!r}); the "
                "one-hot encoding gives them no category (all zeros). Fit on data with every "
                "category, or merge rare categories first.",
                UserWarning,
            )

    def set_output(self, *, transform: str | None = None) -> _CategoricalColumns:
        """Accept any output setting and keep the output as it is (not wrapped).

        The output feeds the imputer after it, as a pandas object table (or
        an object array): a polars one would need pyarrow for object
        columns, and the pipeline's last step sets the container anyway.

        Parameters
        ----------
        transform : {"default", "pandas", "polars"} or None
            Ignored.

        Returns
        -------
        _CategoricalColumns
        """
        return self

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        """The input column names (one output column per input column).

        Parameters
        ----------
        input_features : array-like of str, optional
            Checked against the names seen in ``fit``.

        Returns
        -------
        ndarray of str
        """
        check_is_fitted(self)
        return _check_feature_names_in(self, input_features)

    def _checked(self, X: object) -> tuple[object, dict[object, tuple[object, object]]]:
        """``X`` (a polars frame as a pandas one) and :func:`_value_kinds` of it.

        A ``TypeError`` for names, dates and columns of text and numbers.
        """
        X = _pandas_input(X)
        columns = getattr(X, "columns", None)
        if columns is not None and not all(isinstance(c, str) for c in columns):
            raise TypeError(
                f"Modality {self.modality!r}: the categorical columns {list(columns)[:5]} are "
                f"named by {sorted({type(c).__name__ for c in columns})}, not strings; the "
                "one-hot encoding names its output after them. Name the columns with strings "
                "first (df.columns = df.columns.astype(str)) and select them by those names."
            )
        dtypes = getattr(X, "dtypes", None)
        if dtypes is not None:
            timed = [
                str(column)
                for column, dtype in dtypes.items()
                if pd.api.types.is_datetime64_any_dtype(dtype)
                or pd.api.types.is_timedelta64_dtype(dtype)
            ]
            if timed:
                raise TypeError(
                    f"Modality {self.modality!r}: columns {timed} hold dates or durations, "
                    "which the default categorical steps would one-hot encode, one column per "
                    "distinct value. Make them numbers first (e.g. days since a reference "
                    "date: (df[col] - reference).dt.days), or pass categorical= a transformer "
                    "that handles them."
                )
        kinds = _value_kinds(X)
        mixed = {c: pair for c, pair in kinds.items() if None not in pair}
        if mixed:
            column, (text, number) = next(iter(mixed.items()))
            raise TypeError(
                f"Modality {self.modality!r}: columns {list(mixed)[:5]} hold both text and "
                f"numbers (column {column!r}: e.g. {text!r} and {number!r}), which the one-hot "
                "encoding cannot order. Make each column one kind: text for categories "
                "(X[col].astype(str)), or numbers (pd.to_numeric(X[col], errors='coerce'), "
                "which makes the text missing)."
            )
        return X, kinds


def _categories(X: object) -> dict[object, set]:
    """Per column of a DataFrame, the set of its values that are not missing.

    Arrays have no columns to name: ``{}``.
    """
    if not isinstance(X, pd.DataFrame):
        return {}
    return {
        column: set(X.iloc[:, position].dropna().to_numpy(dtype=object).tolist())
        for position, column in enumerate(X.columns)
    }


def _value_kinds(X: object) -> dict[object, tuple[object, object]]:
    """Per column of a DataFrame, an example of its text and of its numbers (None where none).

    Bools are neither (a ``bool`` column is a category whichever way it is
    written); a ``category`` column is read from its categories, a text
    (``string``) column is text. Arrays have no columns to tell apart: ``{}``.
    """
    if not isinstance(X, pd.DataFrame):
        return {}
    out = {}
    for position, column in enumerate(X.columns):
        values = X.iloc[:, position]
        if isinstance(values.dtype, pd.CategoricalDtype):
            values = pd.Series(values.cat.categories, dtype=object)
        elif pd.api.types.is_bool_dtype(values.dtype):
            continue
        given = values.dropna().to_numpy(dtype=object)
        kinds = set(map(type, given))  # one look per type, not per value
        texts = {k for k in kinds if issubclass(k, (str, bytes))}
        numbers = {k for k in kinds if _is_real_number(k) and not issubclass(k, (bool, np.bool_))}
        text = next((v for v in given if type(v) in texts), None) if texts else None
        number = next((v for v in given if type(v) in numbers), None) if numbers else None
        out[column] = (text, number)
    return out


def _check_columns(modality: str, columns: object) -> None:
    """Refuse a modality's column selector that is not a 2-D selection of at least one column."""
    if columns is None or isinstance(columns, (str, int, np.integer)):
        raise ValueError(
            f"Modality {modality!r}: columns={columns!r} is not a list of columns; a modality "
            f"is a block of columns, so give a list even for one (e.g. [{columns!r}]), a "
            "slice, a boolean mask or a callable."
        )
    if not callable(columns) and _selects_none(columns):  # a slice is checked at fit
        raise ValueError(
            f"Modality {modality!r} selects no columns; give it at least one, or leave it out."
        )


def _check_disjoint(modalities: Mapping[str, object]) -> None:
    """Refuse columns that two modalities list by name (a copy in each would fake redundancy).

    Lists of names are compared when the transformer is made; every selection
    (positions, masks, slices, callables too) is compared again on the table
    it is fitted on (:class:`_SelectsColumns`).
    """
    owner: dict[str, str] = {}
    for name, columns in modalities.items():
        if callable(columns) or isinstance(columns, slice):
            continue
        for column in np.asarray(columns, dtype=object).ravel():
            if not isinstance(column, str):
                continue
            if column in owner and owner[column] != name:
                raise ValueError(
                    f"Column {column!r} is in modalities {owner[column]!r} and {name!r}; each "
                    "column must belong to one modality (a copy in two would make them look "
                    "redundant). Give it to one of them."
                )
            owner[column] = name


def _positions(selection: object, X: object) -> np.ndarray | None:
    """The column positions of ``X`` that a selection names, or None where it names none it can.

    Read as the estimators read ``modalities=`` (names in a DataFrame's
    columns, label slices with both ends, integer positions, boolean masks),
    which is how a ``ColumnTransformer`` reads them too. None where the
    selection cannot be read (the ``ColumnTransformer`` names the problem).
    """
    columns = getattr(X, "columns", None)
    try:
        return _normalise_selector(
            selection, None if columns is None else pd.Index(columns), np.shape(X)[1], "", True
        )
    except (KeyError, TypeError, ValueError):
        return None


def _short(selection: object) -> str:
    """A selection's repr for a message, cut to 60 characters."""
    text = repr(selection)
    return text if len(text) <= 60 else text[:57] + "..."


def _label_slice(selection: object) -> bool:
    """Whether a selection is a slice of column names."""
    return isinstance(selection, slice) and (
        isinstance(selection.start, str) or isinstance(selection.stop, str)
    )


def _selects_none(selection: object) -> bool:
    """Whether a column selection (a list, an array, a boolean mask) names no column.

    Known without the table; a slice counts as selecting something (it is
    resolved when the table is fitted).
    """
    if isinstance(selection, slice):
        return False
    values = np.asarray(selection)
    return values.size == 0 or (values.dtype == bool and not values.any())


class _InNoModality(TransformerMixin, BaseEstimator):
    """The ``remainder`` of ``make_modality_transformer``'s ``ColumnTransformer``: refuses.

    A ``ColumnTransformer`` fits its remainder on the columns that no entry
    selects (and only when there are some): a column forgotten in the
    mapping, an identifier or an outcome left in the table. ``"drop"`` would
    lose it without a word; this names it. ``set_params(remainder="drop")``
    on the returned transformer (or ``make_modality_transformer(...,
    remainder="drop")``) leaves such columns out on purpose.
    """

    def fit(self, X: object, y: object = None) -> _InNoModality:
        """Refuse the columns that no modality selects.

        Parameters
        ----------
        X : DataFrame or array-like
            The table's columns that no modality selects.
        y : None
            Ignored.

        Raises
        ------
        ValueError
            Always, naming the columns.
        """
        columns = list(getattr(X, "columns", range(np.shape(X)[1])))
        shown = ", ".join(repr(c) for c in columns[:10])
        more = f" and {len(columns) - 10} more" if len(columns) > 10 else ""
        one = len(columns) == 1
        it = "it" if one else "them"
        subject = (
            f"Column {shown} of the table is" if one else f"Columns {shown}{more} of the table are"
        )
        raise ValueError(
            f"{subject} in no modality. Add {'it' if one else 'each'} to the modality it belongs "
            f"to, or, to leave {it} out (an identifier, an outcome), drop {it} from the table or "
            "pass make_modality_transformer(..., remainder='drop') (in a built pipeline: "
            "set_params(<its step name>__remainder='drop'))."
        )

    def transform(self, X: object) -> object:  # pragma: no cover - fit always raises
        """Never reached (:meth:`fit` refuses); a ``ColumnTransformer`` requires it."""
        raise NotImplementedError

    def set_output(self, *, transform: str | None = None) -> _InNoModality:
        """Nothing to configure: it outputs no column (the transformer's ``set_output`` calls it).

        Parameters
        ----------
        transform : str or None
            Ignored.

        Returns
        -------
        self
        """
        return self


class _SelectsColumns:
    """A modality's column selector that refuses to select no column, or another's.

    A ``ColumnTransformer`` skips an entry whose selection is empty, which
    would drop the modality without a word, and lets two entries select the
    same column, which would copy it into two modalities and make them look
    redundant. A callable's selection and a slice's depend on the table, and
    positions, masks and slices can overlap, so they are checked when the
    table is fitted.

    Parameters
    ----------
    selector : object
        The user's selector (a list of names or positions, a mask, a slice,
        a callable called with the table being fitted).
    modality : str
        The modality's name, for the error message.
    selectors : mapping of str to object
        Every modality's selector, this one's included, to compare with.
    """

    def __init__(self, selector: object, modality: str, selectors: Mapping[str, object]) -> None:
        self.selector = selector
        self.modality = modality
        self.selectors = selectors

    def __call__(self, X: object) -> object:
        """The selector's columns of ``X``; a ``ValueError`` when there are none.

        Parameters
        ----------
        X : DataFrame or array-like
            The table being fitted.

        Returns
        -------
        object
            What the selector returned; its column positions for a table
            with MultiIndex columns, which a ``ColumnTransformer`` cannot
            index by their tuples.
        """
        selection = self.selector(X) if callable(self.selector) else self.selector
        own = _positions(selection, X)
        if own is None and hasattr(X, "columns"):  # the reason, naming the modality
            _normalise_selector(selection, pd.Index(X.columns), np.shape(X)[1], self.modality, True)
        if _selects_none(selection) or (own is not None and own.size == 0):
            raise ValueError(
                f"Modality {self.modality!r}: its column selector {self.selector!r} selects "
                f"no column of this table (columns {list(getattr(X, 'columns', []))[:10]}); "
                "a modality needs at least one. Fix the selector, or leave the modality out."
            )
        # each pair once: this modality against those before it
        earlier = list(self.selectors)[: list(self.selectors).index(self.modality)]
        for other in earlier if own is not None else ():
            selector = self.selectors[other]
            theirs = _positions(selector(X) if callable(selector) else selector, X)
            shared = [] if theirs is None else sorted(set(own.tolist()) & set(theirs.tolist()))
            if shared:
                names = list(getattr(X, "columns", range(np.shape(X)[1])))
                labels = any(_label_slice(v) for v in (self.selector, selector))
                raise ValueError(
                    f"Columns {[names[i] for i in shared][:10]} are selected by modalities "
                    f"{other!r} ({_short(selector)}) and {self.modality!r} "
                    f"({_short(self.selector)}); each "
                    "column must belong to one modality (a copy in two would make them look "
                    "redundant). "
                    + ("Label slices include both ends, as DataFrame.loc does. " if labels else "")
                    + "Give each column to one of them."
                )
        if isinstance(getattr(X, "columns", None), pd.MultiIndex) and own is not None:
            # a ColumnTransformer cannot index a MultiIndex by its tuples; positions it can
            return own.tolist()
        return selection

    def __repr__(self) -> str:
        return repr(self.selector)


class _ColumnsByDtype:
    """The positions of a modality's numeric columns (``numeric=True``) or of the others.

    Numeric is what :func:`_number_dtype` calls numbers (not bools, nor
    durations, which go to the categorical steps, which refuse them);
    :class:`_ModalitySteps` has already read object columns of numbers as
    numbers.
    Positions, not names: the inner ``ColumnTransformer`` would read integer
    column names as positions in the modality's sub-table.

    Parameters
    ----------
    numeric : bool
        Which columns to select.
    modality : str
        The modality's name, for the error message.
    """

    def __init__(self, numeric: bool, modality: str) -> None:
        self.numeric = numeric
        self.modality = modality

    def __call__(self, X: object) -> list[int]:
        """The positions of the selected columns of ``X``.

        Parameters
        ----------
        X : DataFrame
            The modality's columns.

        Returns
        -------
        list of int

        Raises
        ------
        TypeError
            When ``X`` is not a DataFrame (it has no column dtypes).
        """
        X = _pandas_input(X)  # a polars frame's dtypes read as pandas reads them
        if not isinstance(X, pd.DataFrame):
            raise TypeError(
                f"Modality {self.modality!r}: make_modality_transformer tells numeric from "
                f"categorical columns by their dtypes, so it needs a pandas DataFrame; got "
                f"{type(X).__name__}. Wrap the table: pd.DataFrame(X, columns=names)."
            )
        return [i for i, dtype in enumerate(X.dtypes) if _number_dtype(dtype) == self.numeric]

    def __repr__(self) -> str:
        return f"{'numeric' if self.numeric else 'non-numeric'} columns"


def _check_table_labels(X: object) -> None:
    """Refuse a pandas table whose column labels the modality steps cannot select by.

    A ``ColumnTransformer`` fails on such a table with an error that names
    neither the columns nor the fix (a duplicate-name error, scikit-learn's
    feature-name ``TypeError``).

    Parameters
    ----------
    X : object
        The table being fitted; only a pandas DataFrame's labels are checked
        (other tables' column names are unique strings, or absent).

    Raises
    ------
    ValueError
        For repeated labels, or labels that are partly strings and partly
        not.
    """
    columns = getattr(X, "columns", None)
    if not isinstance(columns, pd.Index) or isinstance(columns, pd.MultiIndex):
        return  # a MultiIndex's tuples are selected by position (_SelectsColumns)
    repeated = columns[columns.duplicated()].unique().tolist()
    if repeated:
        raise ValueError(
            f"The table has {len(repeated)} column label(s) used more than once: "
            f"{repeated[:10]}, which scikit-learn refuses as feature names. Give each column "
            "its own name, e.g. with a modality prefix (pd.concat({'labs': labs, 'notes': "
            "notes}, axis=1) names them by tuples), or X.columns = [f'c{i}' for i in "
            "range(X.shape[1])] and select by position."
        )
    text = [c for c in columns if isinstance(c, str)]
    other = [c for c in columns if not isinstance(c, str)]
    if text and other:
        raise ValueError(
            f"The table's column labels are partly strings ({text[:3]}) and partly not "
            f"({other[:3]}), which scikit-learn refuses as feature names. Make them all "
            "strings, e.g. X.columns = X.columns.astype(str), and name the columns so in "
            "modalities."
        )


class ColumnTransformer(_SklearnColumnTransformer):
    """The transformer ``make_modality_transformer`` returns: one entry per modality.

    scikit-learn's ``ColumnTransformer``, whose fit first checks the table's
    column labels (:func:`_check_table_labels`), so that a table it cannot
    select from is refused with the labels and the fix named. It keeps its
    parent's name, so ``make_pipeline`` names its step
    ``"columntransformer"`` and ``set_params`` keys stay those of
    scikit-learn's; it is not part of the public API (``__all__``).
    """

    def fit_transform(self, X: object, y: object = None, **params: object) -> object:
        """Check the table's column labels, then fit as a ``ColumnTransformer`` does.

        Parameters
        ----------
        X : DataFrame
            The table.
        y : array-like, optional
            Targets, for steps that use them.
        **params : dict
            Metadata routed to the steps.

        Returns
        -------
        DataFrame or ndarray
        """
        _check_table_labels(X)
        return super().fit_transform(X, y, **params)


class _UnweightedScaler(StandardScaler):
    """The default numeric steps' scaler: it takes no ``sample_weight`` from metadata routing.

    With routing enabled, scikit-learn refuses weights passed to a pipeline
    while a step that could take them has not said whether it does, and the
    default steps are out of the caller's reach. This one says it does not
    (as before routing reached the steps); a ``numeric`` step of the
    caller's may request them.
    """

    __metadata_request__fit = {"sample_weight": UNUSED}
    __metadata_request__partial_fit = {"sample_weight": UNUSED}


class _ModalitySteps(_SklearnColumnTransformer):
    """One modality's numeric and categorical steps, whose outputs must have names.

    A ``ColumnTransformer`` with pandas output names the columns of a step
    that gives no feature names ``tmp_col_name_*``, and those of every other
    step too: the ``<modality>__`` prefixes the estimators split on would be
    lost without a word (the estimator would then see one modality). A
    custom step such as ``FunctionTransformer(np.log1p)`` does that; this
    refuses it when fitted, naming the modality. It also names the modality
    of a signalling NaN (``Decimal("sNaN")``) before a step converts it, and
    reads an object column of numbers (``Decimal`` values from a database,
    numbers beside ``None``) as numbers, as the estimators do, so that it is
    scaled, not one-hot encoded one column per value; a column of numbers
    when fitted that holds anything else when transforming is refused, naming
    it (scikit-learn would read text of numbers as numbers, or name nothing).
    """

    def _modality(self) -> str:
        return self.transformers[0][2].modality

    def transform(self, X: object, **params: object) -> object:
        """Transform as a ``ColumnTransformer`` does, a signalling NaN named first.

        Parameters
        ----------
        X : DataFrame
            The modality's columns.
        **params : dict
            Metadata routed to the steps.

        Returns
        -------
        DataFrame or ndarray
        """
        table, _ = _numbers_read(X, self._modality(), getattr(self, "_numbers_at_fit", ()))
        return super().transform(table, **params)

    def fit_transform(self, X: object, y: object = None, **params: object) -> object:
        """Fit the steps as a ``ColumnTransformer`` does; a ``ValueError`` if an output has no name.

        Parameters
        ----------
        X : DataFrame
            The modality's columns.
        y : array-like, optional
            Targets, for steps that use them.
        **params : dict
            Metadata routed to the steps.

        Returns
        -------
        DataFrame or ndarray
        """
        table, self._numbers_at_fit = _numbers_read(X, self._modality())
        # with absent="impute" nothing else stands between such a table and imputers that would
        # fill it with constants, and scalers that would then pass real values on unscaled
        if len(table) and missing_values(pd.DataFrame(table), _holder(self._modality())).all():
            raise _no_row_has_it(table, self._modality())
        out = super().fit_transform(table, y, **params)
        try:
            self.get_feature_names_out()
        except AttributeError as err:
            modality = self._modality()
            kinds = {"num": "numeric", "cat": "categorical"}
            unnamed = [
                f"its {kinds[kind]} step's {part}"
                for kind, step in self.named_transformers_.items()
                if kind in kinds
                for part in _unnamed_parts(step)
            ]
            raise ValueError(
                f"Modality {modality!r}: {' and '.join(unnamed) or 'a step'} gives its outputs "
                f"no names, so they would lose their '{modality}__' prefix and the estimator "
                "could not find the modality. Give the step names, e.g. "
                "FunctionTransformer(np.log1p, feature_names_out='one-to-one')."
            ) from err
        return out


def _numbers_read(
    X: object, modality: str, numeric: Sequence[int] = ()
) -> tuple[object, list[int]]:
    """``X`` with its object columns of real numbers as float64, and its number columns.

    An object column qualifies when its values that are not missing are all
    real numbers but bools (a column of bools is a category, as a ``bool``
    column is) and there is at least one. The columns at the positions
    ``numeric`` (the number columns when fitted) must hold numbers: text,
    dates or durations there are refused, naming the column. A signalling
    NaN is named first.

    Returns
    -------
    table : DataFrame or object
        A copy where a column changed, else ``X`` itself.
    positions : list of int
        The columns that hold numbers now (bools are categories).
    """
    X = _pandas_input(X)  # a polars frame's columns read as pandas reads them
    missing_values(X, _holder(modality))
    if not isinstance(X, pd.DataFrame):
        return X, []
    numbers, bad = {}, {}
    for position, dtype in enumerate(X.dtypes):
        if position in numeric and X.iloc[:, position].isna().all():
            # a record whose number is missing (None, pd.NA, NaT give other dtypes)
            numbers[position] = np.full(len(X), np.nan)
        elif pd.api.types.is_object_dtype(dtype):
            values = X.iloc[:, position].to_numpy()
            given = values[~missing_values(values, _holder(modality))]
            kinds = set(map(type, given))  # one look per type, not per value
            others = {k for k in kinds if not _is_real_number(k)}
            if others:
                other = next(v for v in given if type(v) in others)
                bad[position] = f"{type(other).__name__} values (e.g. {other!r})"
            elif given.size and (
                position in numeric or not any(issubclass(k, (bool, np.bool_)) for k in kinds)
            ):  # bools are a category, unless the column held numbers when fitted
                numbers[position] = _object_numbers(values[:, None], modality)[:, 0]
        elif not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
            bad[position] = f"{dtype} values"  # bools are numbers to a column of numbers
    turned = [p for p in numeric if p in bad]
    if turned:
        raise TypeError(
            f"Modality {modality!r}: column {X.columns[turned[0]]!r} held numbers when fitted "
            f"and holds {bad[turned[0]]} now. Convert it back to the numbers it held: text "
            "with pd.to_numeric(X[col], errors='coerce') (other text becomes missing), dates "
            "and durations in the unit and from the origin used when fitting (e.g. .dt.days)."
        )
    out = X
    if numbers:
        out = X.copy()
        for position, column in numbers.items():
            out.isetitem(position, column)
    held = [p for p, dtype in enumerate(out.dtypes) if _number_dtype(dtype)]
    return out, held


def _number_dtype(dtype: object) -> bool:
    """Whether a column of this dtype is numbers to the default steps (not bools, durations)."""
    return (
        pd.api.types.is_numeric_dtype(dtype)
        and not pd.api.types.is_bool_dtype(dtype)
        and not pd.api.types.is_timedelta64_dtype(dtype)
    )


def _no_row_has_it(X: object, modality: str | None) -> ValueError:
    """The error for a training table in which every row lacks the modality."""
    columns = list(X.columns) if hasattr(X, "columns") else list(range(X.shape[1]))
    shown = f"{columns[:5]}{f' and {len(columns) - 5} more' if len(columns) > 5 else ''}"
    which = "the modality" if modality is None else f"modality {modality!r}"
    return ValueError(
        f"Every row lacks {which} (its columns {shown} are all missing), so there is nothing "
        "to fit. Drop these columns, or, if these rows are one fold of a cross-validation, "
        "split so that every training fold has samples with it (e.g. stratify on its "
        "presence)."
    )


def _holder(modality: str | None) -> str:
    """What an error calls a table of one modality: its name where known."""
    return "X" if modality is None else f"Modality {modality!r}"


def _unnamed_parts(step: object) -> list[str]:
    """Class names of a step's parts (a Pipeline's steps, or the step) that name no outputs."""
    parts = [part for _, part in step.steps] if isinstance(step, Pipeline) else [step]
    return [type(part).__name__ for part in parts if not hasattr(part, "get_feature_names_out")]


def _per_row(value: object, n_rows: int) -> bool:
    """Whether a metadata value has one entry per row (as scikit-learn's routing judges it)."""
    if isinstance(value, (str, bytes, Mapping)) or not hasattr(value, "__len__"):
        return False
    return np.ndim(value) > 0 and len(value) == n_rows


def _dense(values: object) -> np.ndarray:
    """A transformer's output as a float64 array (sparse matrices and DataFrames densified).

    Raises
    ------
    TypeError
        When the output is not numbers (e.g. an imputer of strings).
    """
    if hasattr(values, "toarray"):
        values = values.toarray()
    elif hasattr(values, "to_numpy"):
        values = values.to_numpy()
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(
            "KeepAbsentRows needs its transformer to output numbers (the absent rows are "
            f"filled with NaN); it output {np.asarray(values).dtype} values ({err}). Encode "
            "them inside the transformer, e.g. with a OneHotEncoder after the imputer."
        ) from None


def make_modality_transformer(
    modalities: Mapping[str, object],
    *,
    numeric: BaseEstimator | None = None,
    categorical: BaseEstimator | None = None,
    absent: str = "keep",
    remainder: str = "error",
) -> _SklearnColumnTransformer:
    """A transformer that preprocesses each modality of a mixed-type table.

    Numeric and categorical columns are told apart by their dtype when the
    transformer is fitted (numeric is what ``DataFrame.select_dtypes(include=
    "number")`` selects but durations, and an object column whose values are
    real numbers and missing values, such as ``Decimal`` values from a
    database, read as numbers as the estimators read it; a column of numbers
    when fitted must hold numbers when transforming; everything else is
    categorical: strings, ``category``, booleans), so the table must be a
    DataFrame with one level of column labels, each used once, either all
    strings or none (scikit-learn's rule for feature names). With integer
    labels, integers in ``modalities`` are positions (as a
    ``ColumnTransformer`` reads them), numeric columns come out named
    ``x0``, ``x1``, ..., and categorical columns are refused. Name columns
    with strings to keep their names.

    Parameters
    ----------
    modalities : mapping of str to columns
        ``{modality: columns}``, columns as a ColumnTransformer takes them
        (a list of names, a slice, a mask, a callable). Modality names must
        not contain ``"__"`` nor be a parameter of ``ColumnTransformer``
        (``"verbose"``, ``"remainder"``, ...). A column belongs to one
        modality (lists of names are checked here, every selection when the
        transformer is fitted). Every column of the table must be in one
        modality, or be left out on purpose with ``remainder="drop"``.
    numeric : transformer, default=None
        Applied (a fresh clone per modality) to the numeric columns; None is
        ``SimpleImputer(strategy="median", keep_empty_features=True)`` then
        ``StandardScaler()`` (which takes no ``sample_weight`` under
        metadata routing: pass a scaler that requests it to weight the
        scaling). A transformer given here replaces both, so it
        imputes scattered gaps itself, and it must name its outputs
        (``get_feature_names_out``; e.g. ``FunctionTransformer(np.log1p,
        feature_names_out="one-to-one")``), or the modality prefixes would be
        lost.
    categorical : transformer, default=None
        Applied to the other columns; None makes every missing value (NaN,
        ``None``, ``pd.NA``, ``NaT``) NaN in an object array (so pandas'
        nullable ``string``/``boolean`` columns and ``None`` are imputed
        like NaN), then ``SimpleImputer(strategy="most_frequent",
        keep_empty_features=True)`` and ``OneHotEncoder(handle_unknown=
        "ignore", sparse_output=False)``; it refuses date and duration
        columns (``datetime64``, ``timedelta64``) of a DataFrame, which it
        would encode one column per distinct value, columns that hold both
        text and numbers, and, when transforming, numbers in a column that
        held text when fitted (no fitted category would match them); it
        warns, naming the column, where rows hold categories the fit did not
        see (encoded as all zeros). With either default, a column without a
        value in the training rows is kept, as a constant.
    absent : {"keep", "impute"}, default="keep"
        What to do with a row that lacks a whole modality (all of its
        columns missing). ``"keep"`` leaves the row's outputs for that
        modality all NaN, so that the estimators treat the modality as
        absent for the sample (:class:`KeepAbsentRows`; the modality's steps
        are fitted on the rows that have it). ``"impute"`` fills it in like
        any other missing value, so the model sees an imputed panel as if it
        had been measured. Either way a modality that no training row has is
        refused when fitted, naming it (imputing would fill it with
        constants and later pass real values on unscaled).
    remainder : {"error", "drop"}, default="error"
        What to do with columns of the table that no modality selects:
        ``"error"`` refuses them when the transformer is fitted, naming them
        (a column forgotten in ``modalities`` is not lost without a word);
        ``"drop"`` leaves them out, as ``ColumnTransformer(remainder="drop")``
        does (identifiers, outcome columns kept in the same table). It sets
        the returned transformer's own ``remainder``: a refusing transformer,
        or ``"drop"``; ``set_params(remainder=...)`` changes it later.
        When transforming, a DataFrame's columns beyond the fitted ones are
        ignored either way, as ``ColumnTransformer`` ignores them (the model
        never saw them); a fitted column that is missing is an error.

    Returns
    -------
    ColumnTransformer
        Unfitted, with ``set_output(transform="pandas")``: its output
        columns carry ``<modality>__`` prefixes, so
        ``make_pipeline(make_modality_transformer(...), I2MoEClassifier())``
        fits one modality per key.

    Raises
    ------
    ValueError
        For an empty mapping, a modality name that is empty, contains
        ``"__"`` or is a parameter of ``ColumnTransformer`` (``"verbose"``,
        ``"remainder"``, ...), a column named in two modalities' lists, an
        unknown ``absent`` or ``remainder``, or a column selection that
        selects no column (a callable's or a slice's is checked when the
        transformer is fitted). When fitted, also for a column that two
        modalities' selections share however they are given (positions,
        masks, slices, callables), for columns in no modality (unless
        ``remainder="drop"``), and for a ``numeric`` or ``categorical`` step
        that gives its outputs no names, and for a table whose column labels
        are a MultiIndex, repeat, or are partly strings and partly not.

    Notes
    -----
    With the default ``categorical``, fitting on a DataFrame with a date or
    duration column raises a ``TypeError`` that names the modality and the
    columns: convert them to numbers first.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from sk_i2moe.preprocessing import make_modality_transformer
    >>> table = pd.DataFrame({
    ...     "age": [61, 54, np.nan, 70], "sex": ["f", "m", "f", np.nan],
    ...     "tumour_size": [2.1, 3.4, 1.2, np.nan], "grade": ["II", "III", "II", "I"],
    ... })
    >>> transformer = make_modality_transformer(
    ...     {"demographics": ["age", "sex"], "tumour": ["tumour_size", "grade"]}
    ... )
    >>> out = transformer.fit_transform(table)
    >>> sorted({column.split("__")[0] for column in out.columns})
    ['demographics', 'tumour']
    >>> out.columns.tolist()[:3]
    ['demographics__num__age', 'demographics__cat__sex_f', 'demographics__cat__sex_m']
    """
    if not isinstance(modalities, Mapping) or not modalities:
        raise ValueError(
            f"modalities must be a non-empty mapping {{name: columns}}; got {modalities!r}."
        )
    reserved = set(_SklearnColumnTransformer([]).get_params(deep=False))
    for name in modalities:
        if not isinstance(name, str) or not name or "__" in name:
            raise ValueError(
                f"Modality name {name!r} must be a non-empty string without '__' (the "
                "estimators split the output's column names at the first '__')."
            )
        if name in reserved:
            raise ValueError(
                f"Modality name {name!r} is a parameter of the ColumnTransformer this returns "
                "(scikit-learn refuses step names that are); rename the modality, e.g. "
                f"{name + '_panel'!r}."
            )
    if absent not in ("keep", "impute"):
        raise ValueError(f"absent must be 'keep' or 'impute'; got {absent!r}.")
    if remainder not in ("error", "drop"):
        raise ValueError(
            f"remainder must be 'error' (columns in no modality refused) or 'drop'; got "
            f"{remainder!r}."
        )
    for name, columns in modalities.items():
        _check_columns(name, columns)
    _check_disjoint(modalities)
    numeric = (
        numeric
        if numeric is not None
        else Pipeline(  # the step names make_pipeline gives scikit-learn's own classes
            [
                ("simpleimputer", SimpleImputer(strategy="median", keep_empty_features=True)),
                ("standardscaler", _UnweightedScaler()),
            ]
        )
    )

    def default_categorical(modality: str) -> BaseEstimator:
        return make_pipeline(
            _CategoricalColumns(modality),
            SimpleImputer(strategy="most_frequent", keep_empty_features=True),
            OneHotEncoder(handle_unknown="ignore", sparse_output=False),
        )

    def per_modality(modality: str) -> BaseEstimator:
        steps = clone(categorical) if categorical is not None else default_categorical(modality)
        inner = _ModalitySteps(
            [
                ("num", clone(numeric), _ColumnsByDtype(True, modality)),
                ("cat", steps, _ColumnsByDtype(False, modality)),
            ]
        )
        return KeepAbsentRows(inner, modality=modality) if absent == "keep" else inner

    outer = ColumnTransformer(
        [
            (
                name,
                per_modality(name),
                _SelectsColumns(columns, name, dict(modalities)),
            )
            for name, columns in modalities.items()
        ],
        remainder=_InNoModality() if remainder == "error" else "drop",
    )
    return outer.set_output(transform="pandas")
