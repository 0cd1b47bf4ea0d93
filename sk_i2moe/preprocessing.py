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
modalities.
"""

from __future__ import annotations

from collections.abc import Mapping

from sklearn.base import BaseEstimator, clone
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

__all__ = ["make_modality_transformer"]


def make_modality_transformer(
    modalities: Mapping[str, object],
    *,
    numeric: BaseEstimator | None = None,
    categorical: BaseEstimator | None = None,
) -> ColumnTransformer:
    """A transformer that preprocesses each modality of a mixed-type table.

    Numeric and categorical columns are told apart by their dtype when the
    transformer is fitted (``make_column_selector(dtype_include="number")``;
    everything else is categorical: strings, ``category``, booleans).

    Parameters
    ----------
    modalities : mapping of str to columns
        ``{modality: columns}``, columns as a ColumnTransformer takes them
        (a list of names, a slice, a mask, a callable). Modality names must
        not contain ``"__"``. Columns in no modality are dropped, so list
        every column you want to keep.
    numeric : transformer, default=None
        Applied (a fresh clone per modality) to the numeric columns; None is
        ``SimpleImputer(strategy="median")`` then ``StandardScaler()``.
    categorical : transformer, default=None
        Applied to the other columns; None is
        ``SimpleImputer(strategy="most_frequent")`` then
        ``OneHotEncoder(handle_unknown="ignore", sparse_output=False)``.

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
        For an empty mapping or a modality name that is empty or contains
        ``"__"``.

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
    for name in modalities:
        if not isinstance(name, str) or not name or "__" in name:
            raise ValueError(
                f"Modality name {name!r} must be a non-empty string without '__' (the "
                "estimators split the output's column names at the first '__')."
            )
    numeric = numeric if numeric is not None else make_pipeline(
        SimpleImputer(strategy="median"), StandardScaler()
    )
    categorical = categorical if categorical is not None else make_pipeline(
        SimpleImputer(strategy="most_frequent"),
        OneHotEncoder(handle_unknown="ignore", sparse_output=False),
    )

    def per_modality() -> ColumnTransformer:
        return ColumnTransformer(
            [
                ("num", clone(numeric), make_column_selector(dtype_include="number")),
                ("cat", clone(categorical), make_column_selector(dtype_exclude="number")),
            ]
        )

    outer = ColumnTransformer(
        [(name, per_modality(), columns) for name, columns in modalities.items()],
        remainder="drop",
    )
    return outer.set_output(transform="pandas")
