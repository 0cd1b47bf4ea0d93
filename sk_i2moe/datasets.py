"""Data sets for examples, tests and benchmarks."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_breast_cancer


def load_breast_cancer_views() -> tuple[dict[str, np.ndarray], np.ndarray]:
    """scikit-learn's breast-cancer data as three modalities.

    The 30 features of :func:`sklearn.datasets.load_breast_cancer` describe
    ten cell-nucleus measurements three ways; each way is one modality:
    ``"mean"`` (features 0-9), ``"error"`` (standard errors, 10-19) and
    ``"worst"`` (largest values, 20-29).

    Returns
    -------
    X : dict of str to ndarray of shape (569, 10)
        The three modalities.
    y : ndarray of shape (569,)
        1 for benign, 0 for malignant.

    Examples
    --------
    >>> from sk_i2moe.datasets import load_breast_cancer_views
    >>> X, y = load_breast_cancer_views()
    >>> {name: block.shape for name, block in X.items()}
    {'mean': (569, 10), 'error': (569, 10), 'worst': (569, 10)}
    """
    data = load_breast_cancer()
    X = {
        name: np.ascontiguousarray(data.data[:, 10 * i : 10 * (i + 1)])
        for i, name in enumerate(("mean", "error", "worst"))
    }
    return X, data.target
