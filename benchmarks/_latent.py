"""A second synthetic generator, independent of ``sk_i2moe.datasets``.

In ``sk_i2moe.datasets`` a factor the label does not use is switched off
(set to 0), so the features themselves hint at the mechanism. Here every
modality always carries every factor, whatever the label's mechanism:

- a private factor ``p_m``;
- a synergy factor ``s_m``;
- a noisy copy ``z + 0.5 e_m`` of one shared factor ``z``;
- nuisance dimensions;

randomly rotated into ``n_features`` dimensions, so the features look alike
whatever the truth and only the label's mechanism changes:

- ``uniqueness[m<k>]``: the label is ``p_k`` (its sign for classification);
- ``redundancy``: the label is ``z``, which every modality carries a noisy copy of;
- ``synergy``: the label is ``s_0 * s_1`` (an XOR of signs for classification);
- ``additive``: the label is ``(p_0 + ... + p_{M-1}) / sqrt(M)``, every modality's
  private factor added up: each modality informs it separately, none jointly, and
  no two share what they carry, so no single interaction explains it. For
  classification the class is drawn from a logistic model of it (log-odds
  ``ADDITIVE_SLOPE`` times the sum), the usual meaning of "no interaction" in
  clinical statistics; the sign of the sum would be a threshold of both factors at
  once, which information theory counts as partly synergistic.

``mixed`` data draw the mechanism per sample, one third each of
uniqueness[m0], redundancy and synergy, and announce it in every modality by a
three-valued marker feature (one-hot, with noise), so that the mechanism is
identifiable from the features of any modality.
"""

from __future__ import annotations

import numpy as np

MIXED = ("uniqueness[m0]", "redundancy", "synergy")
ADDITIVE_SLOPE = 3.0  # log-odds per unit of the added-up factors (additive classification)


def _mechanism_label(mechanism: str, factors: dict[str, np.ndarray]) -> np.ndarray:
    if mechanism == "redundancy":
        return factors["shared"]
    if mechanism == "synergy":
        return factors["synergy"][:, 0] * factors["synergy"][:, 1]
    if mechanism == "additive":
        return factors["private"].sum(axis=1) / np.sqrt(factors["private"].shape[1])
    m = int(mechanism[len("uniqueness[m") : -1])
    return factors["private"][:, m]


def make_latent(
    mechanism: str,
    *,
    n_samples: int,
    n_modalities: int,
    task: str = "classification",
    n_features: int = 12,
    noise: float = 0.1,
    random_state: int = 0,
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Modalities, target and each sample's true mechanism.

    Parameters
    ----------
    mechanism : str
        ``"uniqueness[m<k>]"``, ``"redundancy"``, ``"synergy"``, ``"additive"`` or
        ``"mixed"``.
    n_samples, n_modalities : int
        Size of the data set.
    task : {"classification", "regression"}
        Sign of the latent label (balanced classes) or the latent label plus noise.
    n_features : int
        Dimensions per modality (at least 7: 3 factors, 3 marker slots, 1 nuisance).
    noise : float
        Standard deviation of the feature noise (and of the regression target's).
    random_state : int
        Seed.

    Returns
    -------
    X : dict of str to ndarray
    y : ndarray
    mechanisms : ndarray of str
    """
    rng = np.random.default_rng(random_state)
    factors = draw_factors(rng, n_samples, n_modalities)
    if mechanism == "mixed":
        mechanisms = np.array(MIXED)[rng.permutation(n_samples) % len(MIXED)]
    else:
        mechanisms = np.full(n_samples, mechanism)
    latent = np.empty(n_samples)
    for name in np.unique(mechanisms):
        rows = mechanisms == name
        latent[rows] = _mechanism_label(name, {k: v[rows] for k, v in factors.items()})
    marker = np.zeros((n_samples, len(MIXED)))
    if mechanism == "mixed":
        marker[np.arange(n_samples), [MIXED.index(m) for m in mechanisms]] = 2.0
    X = {}
    for m in range(n_modalities):
        columns = [
            factors["private"][:, m],
            factors["synergy"][:, m],
            factors["shared"] + 0.5 * rng.standard_normal(n_samples),
        ]
        nuisance = rng.standard_normal((n_samples, n_features - 3 - len(MIXED)))
        latent_m = np.column_stack([*columns, marker, nuisance])
        rotation, _ = np.linalg.qr(rng.standard_normal((n_features, n_features)))
        X[f"m{m}"] = latent_m @ rotation + noise * rng.standard_normal((n_samples, n_features))
    if task == "classification":
        y = class_labels(mechanism, latent, rng)
    else:
        y = latent + noise * rng.standard_normal(n_samples)
    return X, y, mechanisms


def draw_factors(rng: np.random.Generator, n_samples: int, n_modalities: int) -> dict:
    """Each modality's private and synergy factor, and the factor all of them share."""
    return {
        "private": rng.standard_normal((n_samples, n_modalities)),
        "synergy": rng.standard_normal((n_samples, n_modalities)),
        "shared": rng.standard_normal(n_samples),
    }


def class_labels(mechanism: str, latent: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Classes of a latent label: its sign, or a logistic draw for ``"additive"``."""
    if mechanism == "additive":
        return (rng.random(len(latent)) < 1 / (1 + np.exp(-ADDITIVE_SLOPE * latent))).astype(
            np.int64
        )
    return (latent > 0).astype(np.int64)
