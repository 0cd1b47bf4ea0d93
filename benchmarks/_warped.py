"""A third synthetic generator: warped features of unequal widths, noisy labels.

``_latent.py`` rotates every factor linearly into modalities of equal width,
and its classes are the exact sign of the latent label. Data a user brings
look less tidy, so this generator keeps the latent generator's factors and
label rules (:func:`_latent._mechanism_label`: every modality always carries
its private factor, its synergy factor, a noisy copy of the shared factor and
nuisance dimensions) but

- warps them: each modality is ``tanh`` of a random (not orthogonal) linear
  map of its factors, so no feature is a factor and some information is
  squashed;
- gives the modalities unequal widths (:data:`WIDTHS`: 6, 15, 30, ...
  features), so the first, narrowest modality carries its factors least
  cleanly;
- flips :data:`LABEL_FLIP` of the class labels at random (classification),
  or adds noise of standard deviation 0.2 to the target (regression).

It has no ``mixed`` mechanism (nothing announces a sample's mechanism).
"""

from __future__ import annotations

import numpy as np
from _latent import _mechanism_label, class_labels, draw_factors

#: features per modality, in order (cycled for more modalities)
WIDTHS = (6, 15, 30, 9, 20, 12)
#: share of class labels flipped at random
LABEL_FLIP = 0.1
#: standard deviation of the regression target's noise
TARGET_NOISE = 0.2
#: nuisance factors per modality
N_NUISANCE = 3


def make_warped(
    mechanism: str,
    *,
    n_samples: int,
    n_modalities: int,
    task: str = "classification",
    noise: float = 0.05,
    random_state: int = 0,
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Modalities, target and each sample's true mechanism (all ``mechanism``).

    As :func:`_latent.make_latent` (without ``"mixed"`` or ``n_features``), but
    ``noise`` is added to the warped features only: the regression target's is
    :data:`TARGET_NOISE`, and :data:`LABEL_FLIP` of the classes are flipped.
    """
    if mechanism == "mixed":
        raise ValueError("the warped generator has no mixed mechanism; use the latent one")
    rng = np.random.default_rng(random_state)
    factors = draw_factors(rng, n_samples, n_modalities)
    latent = _mechanism_label(mechanism, factors)
    X = {}
    for m in range(n_modalities):
        width = WIDTHS[m % len(WIDTHS)]
        columns = np.column_stack(
            [
                factors["private"][:, m],
                factors["synergy"][:, m],
                factors["shared"] + 0.4 * rng.standard_normal(n_samples),
                rng.standard_normal((n_samples, N_NUISANCE)),
            ]
        )
        mixing = rng.standard_normal((columns.shape[1], width))
        X[f"m{m}"] = np.tanh(columns @ mixing / 2) + noise * rng.standard_normal((n_samples, width))
    if task == "regression":
        y = latent + TARGET_NOISE * rng.standard_normal(n_samples)
    else:
        y = class_labels(mechanism, latent, rng)
        flip = rng.random(n_samples) < LABEL_FLIP
        y[flip] = 1 - y[flip]
    return X, y, np.full(n_samples, mechanism)
