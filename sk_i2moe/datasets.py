"""Data sets for examples, tests and benchmarks.

Two kinds: :func:`load_breast_cancer_views`, a small real data set cut into
three modalities, and synthetic multimodal problems whose cross-modal
interaction is known per sample (:func:`make_interaction_classification`,
:func:`make_interaction_regression`), to check what an I2MoE model's
interaction weights say against the ground truth.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from numbers import Integral, Real

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.utils import check_random_state

__all__ = [
    "load_breast_cancer_views",
    "make_interaction_classification",
    "make_interaction_regression",
]

_MECHANISMS = ("uniqueness", "synergy", "redundancy")
# Latent slots of every modality, before the random rotation.
_PRIVATE, _SHARED, _SYNERGY = 0, 1, 2
_N_SIGNAL = 3
_MIN_FEATURES = _N_SIGNAL + 1  # the three signal slots and at least one distractor
# Modalities whose factors interact in the synergy mechanism.
_SYNERGY_PAIR = (0, 1)


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


# -- validation ---------------------------------------------------------------
def _check_int(value: object, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}.")
    return int(value)


def _check_n_features(n_features: object, n_modalities: int) -> list[int]:
    if isinstance(n_features, np.ndarray) and n_features.ndim == 0:
        n_features = n_features.item()  # a 0-d array is its one number
    if hasattr(n_features, "to_numpy"):  # a pandas Series or Index: its values
        n_features = n_features.to_numpy()
    if isinstance(n_features, Integral) and not isinstance(n_features, bool):
        sizes = [n_features] * n_modalities
    elif isinstance(n_features, Sequence | np.ndarray) and not isinstance(n_features, str):
        sizes = list(n_features)
        if len(sizes) != n_modalities:
            raise ValueError(
                f"n_features has {len(sizes)} entries but n_modalities={n_modalities}; give "
                "one number of features per modality, or a single int for all."
            )
    else:
        raise ValueError(
            f"n_features must be an int or a list of ints (one per modality); got {n_features!r}."
        )
    for m, size in enumerate(sizes):
        if isinstance(size, bool) or not isinstance(size, Integral):
            raise ValueError(
                f"n_features must hold integers; it gives {size!r} ({type(size).__name__}) for "
                f"modality 'm{m}'."
            )
        if size < _MIN_FEATURES:
            raise ValueError(
                f"every modality needs at least {_MIN_FEATURES} features (a private, a shared "
                f"and a synergistic factor plus distractors); n_features gives {size!r} for "
                f"modality 'm{m}'."
            )
    return [int(s) for s in sizes]


def _check_interaction(
    interaction: object, n_modalities: int, unique_modality: int
) -> dict[str, float]:
    """Normalise ``interaction`` to ``{ground-truth label: proportion}``."""
    unique_label = f"uniqueness[m{unique_modality}]"
    allowed = ", ".join(
        [repr(m) for m in _MECHANISMS] + [f"'uniqueness[m<k>]' (k < {n_modalities})"]
    )
    valid_labels = {f"uniqueness[m{k}]" for k in range(n_modalities)} | {"synergy", "redundancy"}
    if isinstance(interaction, str):
        if interaction not in _MECHANISMS and interaction not in valid_labels:
            raise ValueError(
                f"interaction must be one of {allowed} or a dict of proportions; "
                f"got {interaction!r}."
            )
        interaction = {interaction: 1.0}
    if not isinstance(interaction, Mapping):
        raise ValueError(
            "interaction must be 'uniqueness', 'synergy', 'redundancy' or a dict of "
            "proportions such as {'uniqueness': 0.3, 'synergy': 0.4, 'redundancy': 0.3}; "
            f"got {type(interaction).__name__} "
            f"{interaction.item() if isinstance(interaction, np.generic) else interaction!r:.60}."
            + (
                " It is the first argument: pass the sample count by name, "
                f"n_samples={int(interaction)}."
                if isinstance(interaction, Integral) and not isinstance(interaction, bool)
                else ""
            )
        )
    proportions: dict[str, float] = {}
    for key, share in interaction.items():
        label = unique_label if key == "uniqueness" else key
        if label not in valid_labels:
            raise ValueError(f"unknown interaction {key!r}; the keys must be among {allowed}.")
        if label in proportions:
            raise ValueError(
                f"interaction names {label!r} twice ('uniqueness' means {unique_label!r} "
                f"because unique_modality={unique_modality})."
            )
        if isinstance(share, bool) or not isinstance(share, Real) or not share >= 0:
            raise ValueError(
                f"interaction proportions must be non-negative numbers; got {share!r} for {key!r}."
            )
        proportions[label] = float(share)
    total = sum(proportions.values())
    if not np.isclose(total, 1.0, rtol=0, atol=1e-6):
        raise ValueError(
            f"interaction proportions must sum to 1; they sum to {total!r} ({proportions})."
        )
    return {label: share for label, share in proportions.items() if share > 0}


def _allocate(proportions: dict[str, float], n_samples: int) -> dict[str, int]:
    """Largest-remainder rounding of ``proportions * n_samples`` to integer counts.

    The proportions are normalised first: they may sum to 1 within a
    tolerance, and rounding must then add samples, never remove them.
    """
    labels = list(proportions)
    shares = np.array([proportions[label] for label in labels], dtype=np.float64)
    raw = shares / shares.sum() * n_samples
    counts = np.floor(raw).astype(int)
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[: n_samples - counts.sum()]] += 1
    return dict(zip(labels, counts.tolist()))


def _random_rotation(dim: int, rng: np.random.RandomState) -> np.ndarray:
    """A Haar-distributed orthogonal matrix (QR of a Gaussian, signs fixed)."""
    q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
    return q * np.sign(np.diag(r))


# -- generation ---------------------------------------------------------------
def _make_interaction(
    task: str,
    interaction: object,
    n_samples: object,
    n_modalities: object,
    n_features: object,
    unique_modality: object,
    noise: object,
    random_state: object,
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    n_samples = _check_int(n_samples, "n_samples", 2)
    n_modalities = _check_int(n_modalities, "n_modalities", 2)
    sizes = _check_n_features(n_features, n_modalities)
    if (
        isinstance(unique_modality, bool)
        or not isinstance(unique_modality, Integral)
        or not 0 <= unique_modality < n_modalities
    ):
        raise ValueError(
            f"unique_modality must be an integer in [0, {n_modalities - 1}] (a modality "
            f"index); got {unique_modality!r}."
        )
    if isinstance(noise, bool) or not isinstance(noise, Real) or not 0 <= noise < math.inf:
        raise ValueError(f"noise must be a finite non-negative number; got {noise!r}.")
    proportions = _check_interaction(interaction, n_modalities, int(unique_modality))
    rng = check_random_state(random_state)

    # Which mechanism generates each sample, in exact proportions, shuffled.
    counts = _allocate(proportions, n_samples)
    labels = np.array([label for label, c in counts.items() for _ in range(c)])
    labels = labels[rng.permutation(n_samples)]

    # Latent factors: slots 0-2 are the signal slots (off = 0 unless the sample's
    # mechanism uses them), the rest are always-on standard-normal distractors.
    latents = [rng.standard_normal((n_samples, d)) for d in sizes]
    for m, z in enumerate(latents):
        z[:, :_N_SIGNAL] = 0.0
        if m not in _SYNERGY_PAIR:
            z[:, _SYNERGY] = rng.standard_normal(n_samples)  # an extra distractor
    a, b = _SYNERGY_PAIR

    if task == "classification":
        # Balanced labels: alternate 0/1 within each mechanism, in random order,
        # so every mechanism and the whole set are balanced up to one sample.
        order = np.lexsort((rng.random_sample(n_samples), labels))
        y = np.empty(n_samples, dtype=np.int64)
        y[order] = np.arange(n_samples) % 2
        sign = 2.0 * y - 1.0
        magnitude = np.abs(rng.standard_normal(n_samples))
        for label in counts:
            idx = labels == label
            if label == "redundancy":
                for z in latents:
                    z[idx, _SHARED] = sign[idx] * magnitude[idx]
            elif label == "synergy":
                # y = XOR(z_a > 0, z_b > 0); either sign alone is a fair coin.
                first = rng.random_sample(idx.sum()) < 0.5
                second = first ^ (y[idx] == 1)
                latents[a][idx, _SYNERGY] = np.where(first, 1.0, -1.0) * magnitude[idx]
                other = np.abs(rng.standard_normal(idx.sum()))
                latents[b][idx, _SYNERGY] = np.where(second, 1.0, -1.0) * other
            else:
                m = int(label[len("uniqueness[m") : -1])
                latents[m][idx, _PRIVATE] = sign[idx] * magnitude[idx]
    else:
        y = np.empty(n_samples, dtype=np.float64)
        for label in counts:
            idx = labels == label
            factor = rng.standard_normal(idx.sum())
            if label == "redundancy":
                for z in latents:
                    z[idx, _SHARED] = factor
                y[idx] = factor
            elif label == "synergy":
                partner = rng.standard_normal(idx.sum())
                latents[a][idx, _SYNERGY] = factor
                latents[b][idx, _SYNERGY] = partner
                y[idx] = factor * partner
            else:
                m = int(label[len("uniqueness[m") : -1])
                latents[m][idx, _PRIVATE] = factor
                y[idx] = factor
        with np.errstate(over="ignore", invalid="ignore"):
            y += noise * rng.standard_normal(n_samples)

    X = {}
    with np.errstate(over="ignore", invalid="ignore"):  # refused below, with the reason
        for m, z in enumerate(latents):
            rotation = _random_rotation(z.shape[1], rng)
            X[f"m{m}"] = z @ rotation.T + noise * rng.standard_normal(z.shape)
    if not np.isfinite(y).all() or not all(np.isfinite(x).all() for x in X.values()):
        raise ValueError(
            f"noise={noise!r} is too large: the noisy features or targets overflow float64 "
            "to infinity. Use a noise of the order of the signal (1) or a few times it."
        )
    return X, y, labels


def make_interaction_classification(
    interaction: str | Mapping[str, float] = "uniqueness",
    n_samples: int = 500,
    n_modalities: int = 3,
    n_features: int | Sequence[int] = 10,
    unique_modality: int = 0,
    noise: float = 0.1,
    random_state: int | np.random.RandomState | None = None,
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Binary multimodal classification with a known interaction per sample.

    Every modality ``m`` has latent factors: a *private* factor, its copy of
    a *shared* factor, a *synergistic* factor (modalities ``m0`` and ``m1``
    only) and standard-normal distractors (all remaining factors). Each
    sample is generated by one mechanism, which switches on only the factors
    it uses (the others are 0):

    - ``"uniqueness"``: the label is the sign of the private factor of
      modality ``unique_modality``; no other modality knows it.
    - ``"redundancy"``: the label is the sign of a shared factor that every
      modality observes (each with its own noise); any one modality suffices.
    - ``"synergy"``: the label is the XOR of the signs of the synergistic
      factors of ``m0`` and ``m1``; each of the two alone is independent of
      the label, so only both together predict it.

    The factors of each modality are then mixed by a random rotation (an
    orthogonal matrix, the QR factor of a Gaussian matrix), so no observed
    feature is aligned with a factor, and Gaussian noise is added. Labels are
    balanced within every mechanism (up to one sample).

    Parameters
    ----------
    interaction : {"uniqueness", "redundancy", "synergy"} or dict, default="uniqueness"
        The mechanism that generates the target. A dict gives the proportion
        of samples from each mechanism, e.g. ``{"uniqueness": 0.3,
        "synergy": 0.4, "redundancy": 0.3}`` (non-negative, summing to 1;
        counts are rounded so they add up to ``n_samples``). A string or a
        key may also name the modality of a uniqueness mechanism,
        ``"uniqueness[m2]"``; plain ``"uniqueness"`` means modality
        ``unique_modality``.
    n_samples : int, default=500
        Number of samples.
    n_modalities : int, default=3
        Number of modalities, at least 2; they are named ``"m0"``, ``"m1"``, ...
    n_features : int or list of int, default=10
        Features per modality (one int for all, or one per modality); at
        least 4 each. Each modality is rotated by a random orthogonal
        matrix, whose cost grows with the cube of its number of features
        (and its memory with the square): for wide omics-like data (many
        thousands of features), build the features yourself.
    unique_modality : int, default=0
        Index of the modality that carries the private factor for
        ``interaction="uniqueness"``.
    noise : float, default=0.1
        Standard deviation of the Gaussian noise added, independently, to
        every observed feature.
    random_state : int, RandomState instance or None, default=None
        Seeds everything: mechanisms, factors, rotations and noise.

    Returns
    -------
    X : dict of str to ndarray of shape (n_samples, n_features_m)
        The modalities ``{"m0": ..., "m1": ..., ...}`` (float64).
    y : ndarray of shape (n_samples,)
        Labels, 0 or 1.
    interaction : ndarray of str of shape (n_samples,)
        The mechanism behind each sample, named as the expert that should
        explain it: ``"uniqueness[m0]"``, ``"synergy"`` or ``"redundancy"``
        (with ``m<k>`` the modality name, so it matches
        ``I2MoEClassifier.expert_names_`` when fitted on ``X``).

    Raises
    ------
    ValueError
        For an unknown interaction, proportions that are negative or do not
        sum to 1, fewer than 2 samples or modalities, fewer than 4 features
        in a modality, an out-of-range ``unique_modality``, or a noise that is
        negative or so large that the data overflow to infinity.

    See Also
    --------
    make_interaction_regression : The regression twin.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_i2moe.datasets import make_interaction_classification
    >>> X, y, interaction = make_interaction_classification(
    ...     {"uniqueness": 0.3, "synergy": 0.4, "redundancy": 0.3},
    ...     n_samples=100, random_state=0)
    >>> {name: block.shape for name, block in X.items()}
    {'m0': (100, 10), 'm1': (100, 10), 'm2': (100, 10)}
    >>> np.bincount(y)
    array([50, 50])
    >>> names, counts = np.unique(interaction, return_counts=True)
    >>> names.tolist(), counts.tolist()
    (['redundancy', 'synergy', 'uniqueness[m0]'], [30, 40, 30])
    """
    return _make_interaction(
        "classification",
        interaction,
        n_samples,
        n_modalities,
        n_features,
        unique_modality,
        noise,
        random_state,
    )


def make_interaction_regression(
    interaction: str | Mapping[str, float] = "uniqueness",
    n_samples: int = 500,
    n_modalities: int = 3,
    n_features: int | Sequence[int] = 10,
    unique_modality: int = 0,
    noise: float = 0.1,
    random_state: int | np.random.RandomState | None = None,
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Multimodal regression with a known interaction per sample.

    The twin of :func:`make_interaction_classification`, with the same
    latent structure and a continuous target (each active factor is
    standard normal):

    - ``"uniqueness"``: the target is the private factor of modality
      ``unique_modality``;
    - ``"redundancy"``: the target is a shared factor observed by every
      modality;
    - ``"synergy"``: the target is the product of the synergistic factors of
      ``m0`` and ``m1``; it is uncorrelated with either factor alone (and
      independent of either modality alone in mean: ``E[y | m0] = 0``).

    Parameters
    ----------
    interaction : {"uniqueness", "redundancy", "synergy"} or dict, default="uniqueness"
        The mechanism that generates the target. A dict gives the proportion
        of samples from each mechanism, e.g. ``{"uniqueness": 0.3,
        "synergy": 0.4, "redundancy": 0.3}`` (non-negative, summing to 1;
        counts are rounded so they add up to ``n_samples``). A string or a
        key may also name the modality of a uniqueness mechanism,
        ``"uniqueness[m2]"``; plain ``"uniqueness"`` means modality
        ``unique_modality``.
    n_samples : int, default=500
        Number of samples.
    n_modalities : int, default=3
        Number of modalities, at least 2; they are named ``"m0"``, ``"m1"``, ...
    n_features : int or list of int, default=10
        Features per modality (one int for all, or one per modality); at
        least 4 each. Each modality is rotated by a random orthogonal
        matrix, whose cost grows with the cube of its number of features
        (and its memory with the square): for wide omics-like data (many
        thousands of features), build the features yourself.
    unique_modality : int, default=0
        Index of the modality that carries the private factor for
        ``interaction="uniqueness"``.
    noise : float, default=0.1
        Standard deviation of the Gaussian noise added, independently, to
        every observed feature, and to the target.
    random_state : int, RandomState instance or None, default=None
        Seeds everything: mechanisms, factors, rotations and noise.

    Returns
    -------
    X : dict of str to ndarray of shape (n_samples, n_features_m)
        The modalities ``{"m0": ..., "m1": ..., ...}`` (float64).
    y : ndarray of shape (n_samples,)
        Continuous target (float64): a signal of roughly unit variance plus
        the ``noise`` (variance about ``1 + noise**2``).
    interaction : ndarray of str of shape (n_samples,)
        The mechanism behind each sample: ``"uniqueness[m0]"``,
        ``"synergy"`` or ``"redundancy"``.

    Raises
    ------
    ValueError
        On invalid parameters, as :func:`make_interaction_classification`.

    See Also
    --------
    make_interaction_classification : The classification twin.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_i2moe.datasets import make_interaction_regression
    >>> X, y, interaction = make_interaction_regression(
    ...     "synergy", n_samples=200, n_features=[4, 6, 5], random_state=0)
    >>> [block.shape[1] for block in X.values()]
    [4, 6, 5]
    >>> y.dtype, np.unique(interaction).tolist()
    (dtype('float64'), ['synergy'])
    """
    return _make_interaction(
        "regression",
        interaction,
        n_samples,
        n_modalities,
        n_features,
        unique_modality,
        noise,
        random_state,
    )
