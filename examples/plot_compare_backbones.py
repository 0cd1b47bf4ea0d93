"""
Comparing fusion backbones and ablations with GridSearchCV
==========================================================

Every expert of I2MoE is a complete fusion network, and the estimator's
``fusion`` parameter picks its architecture; the paper's ablations are
parameters too (``experts``, ``reweighting``, ``perturbation``,
``interaction_loss_weight``, ...). Since they are all plain constructor
arguments, one :class:`~sklearn.model_selection.GridSearchCV` with a *list*
of grids compares backbones and ablations under the same cross-validation.

The settings here are tiny (one mixture per candidate, twenty epochs, no
early stopping) so the page builds in about a minute; see :ref:`backbones`
for every value and what it costs.
"""

# %%
# Data with every kind of interaction
# -----------------------------------
# A third of the samples is labelled by one modality alone (uniqueness), a
# third by the XOR of two modalities (synergy) and a third by a factor all
# modalities share (redundancy). A plain ``dict`` cannot be split by
# scikit-learn's cross-validation (its length is its number of keys), so the
# modalities go into a :class:`skorch.helper.SliceDict`, which slices by row.
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from skorch.helper import SliceDict

from sk_i2moe import I2MoEClassifier
from sk_i2moe.datasets import make_interaction_classification

X, y, interaction = make_interaction_classification(
    {"uniqueness": 1 / 3, "synergy": 1 / 3, "redundancy": 1 / 3},
    n_samples=600,
    random_state=0,
)
X = SliceDict(**X)
print(X.shape, np.bincount(y))

# %%
# One search, several grids
# -------------------------
# Each dict is a separate grid; parameters a dict does not mention keep the
# base estimator's values. The first grid varies the backbone, the others
# switch off one ingredient of I2MoE at a time:
#
# * ``experts="single"``: one fusion network, no interaction experts
#   (vanilla fusion);
# * ``reweighting="static"``: one global weight vector instead of
#   per-sample weights;
# * ``interaction_constraint="loss"``: the paper's mixture, whose experts
#   are pushed towards their kinds by interaction losses on perturbed
#   forward passes instead of being built to them (the default,
#   ``"structure"``, builds each expert to see only what its kind allows).
#
# ``refit=False``: we compare candidates and need no final model. The base
# estimator is one mixture (``n_members=1``; the default trains eight or four side
# by side) trained for exactly twenty epochs (``early_stopping=False``).
base = I2MoEClassifier(
    max_epochs=20,
    hidden_dim=32,
    n_tokens=2,
    n_members=1,
    early_stopping=False,
    random_state=0,
)
grids = [
    {"fusion": ["mlp", "late", "lrtf", "transformer"]},
    {"experts": ["single"]},
    {"reweighting": ["static"]},
    {"interaction_constraint": ["loss"]},
]
cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
search = GridSearchCV(base, grids, cv=cv, refit=False)
search.fit(X, y)

# %%
# Results
# -------
# ``cv_results_`` holds a score and a fit time per candidate. With twenty
# epochs on 400 training samples per fold, differences of a few points of
# accuracy are within the noise of a single seed; the fit times, however,
# already show the cost of attention (``"transformer"``, the paper's
# backbone) over the concatenation MLP (``"mlp"``, the default).
results = pd.DataFrame(search.cv_results_)
results["candidate"] = [
    ", ".join(f"{k}={v!r}" for k, v in params.items()) for params in results["params"]
]
table = results.set_index("candidate")[["mean_test_score", "std_test_score", "mean_fit_time"]]
print(table.round(3).to_string())

fig, (ax_score, ax_time) = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
positions = np.arange(len(table))
ax_score.barh(positions, table["mean_test_score"], xerr=table["std_test_score"], color="tab:blue")
ax_score.set_xlabel("cross-validated accuracy")
ax_score.set_xlim(0.4, 1.0)
ax_time.barh(positions, table["mean_fit_time"], color="tab:gray")
ax_time.set_xlabel("mean fit time (s)")
ax_score.set_yticks(positions, table.index)
ax_score.invert_yaxis()
fig.suptitle("Backbones and ablations, 3-fold cross-validation")
fig.tight_layout()
plt.show()

# %%
# For a real comparison, give every candidate the epochs it needs (the
# default ``early_stopping="auto"`` chooses them on held-out data where it
# can), use more folds, and run the search in parallel:
# ``GridSearchCV(..., n_jobs=k)`` with ``n_threads`` about ``cores // k``
# (see :ref:`scaling`).
