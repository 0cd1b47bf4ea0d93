"""
Quickstart: three views of the breast-cancer data
=================================================

The 30 features of scikit-learn's breast-cancer data describe ten
measurements of cell nuclei three ways: their *mean*, their standard
*error* and their *worst* (largest) value. We treat each way as one
modality, fit an :class:`~sk_i2moe.I2MoEClassifier`, score it, and read
which kind of cross-modal interaction its predictions rely on.
"""

# %%
# Three modalities
# ----------------
# :func:`~sk_i2moe.datasets.load_breast_cancer_views` returns ``X`` as a
# dict ``{modality: array (n_samples, n_features)}`` and the labels ``y``
# (1 = benign). A dict is the simplest input form; the estimator also takes
# DataFrames (see :ref:`input_forms`).
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from sk_i2moe import I2MoEClassifier
from sk_i2moe.datasets import load_breast_cancer_views

X, y = load_breast_cancer_views()
print({name: block.shape for name, block in X.items()})

train, test = train_test_split(np.arange(len(y)), test_size=0.25, stratify=y, random_state=0)
X_train = {name: block[train] for name, block in X.items()}
X_test = {name: block[test] for name, block in X.items()}

# %%
# Fit
# ---
# Features are standardised inside the network (``standardize=True``), so
# raw measurements can be passed as they are. The number of epochs is
# chosen on held-out rows (``early_stopping="auto"``); ``max_epochs`` only
# caps it.
clf = I2MoEClassifier(random_state=0)
clf.fit(X_train, y[train])

print(f"held-out accuracy: {clf.score(X_test, y[test]):.3f}")
print(f"held-out ROC-AUC:  {roc_auc_score(y[test], clf.predict_proba(X_test)[:, 1]):.3f}")

# %%
# The training record is skorch's history: per epoch, the task loss of the
# mixture (which trains the weights), the experts' own task losses (which
# train the experts), and the loss of the mixture with each modality missing
# in turn (which settles which kind of expert the weights prefer).
history = clf.history_
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(history[:, "task_loss"], label="task loss (mixture)")
ax.plot(history[:, "expert_loss"], label="expert loss")
ax.plot(history[:, "missing_modality_loss"], label="one modality missing")
ax.set_xlabel("epoch")
ax.set_ylabel("loss")
ax.legend()
ax.set_title("Training losses")

# %%
# Interaction weights
# -------------------
# There are ``M + 2 = 5`` experts: one *uniqueness* expert per modality, a
# *synergy* and a *redundancy* expert. ``interaction_weights_`` is the mean
# weight of each over the training data (the weights of a sample sum to 1).
for name, weight in zip(clf.expert_names_, clf.interaction_weights_):
    print(f"{name:<20} {weight:.3f}")

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.barh(clf.expert_names_, clf.interaction_weights_)
ax.axvline(1 / len(clf.expert_names_), color="0.5", linestyle=":", label="uniform")
ax.invert_yaxis()
ax.set_xlabel("mean interaction weight (training data)")
ax.legend()
fig.tight_layout()

# %%
# Per-sample explanations
# -----------------------
# :meth:`~sk_i2moe.I2MoEClassifier.explain` returns an
# :class:`~sk_i2moe.inspection.Explanation`: every sample's weights, each
# expert's logits and its contribution ``weight * logit``.
# :meth:`~sk_i2moe.inspection.Explanation.to_frame` makes it a tidy table,
# one row per (sample, expert); the contributions of a sample add up to the
# mixture's logits.
explanation = clf.explain(X_test)
frame = explanation.to_frame()
print(frame.head(5).round(3).to_string())

# %%
# The same table answers questions such as "which expert carries the most
# weight, per test sample?"
top = frame.loc[frame.groupby("sample", observed=True)["weight"].idxmax(), "expert"]
print(top.value_counts().to_string())

# %%
# Check before you interpret
# --------------------------
# The reweighting network sees the same inputs as the experts, so it can
# learn the label itself and route each *class* to an expert that votes for
# it. Two quick checks: if the dominant expert is (almost) a function of the
# predicted class, the weights encode the class rather than an interaction;
# and if the experts alone score far below the mixture, the prediction
# lives in the weights. See :ref:`interpretation` for the details, and
# :ref:`sphx_glr_auto_examples_plot_interpretation.py` for data whose true
# interactions are known.
print(
    pd.crosstab(top.to_numpy(), clf.predict(X_test), rownames=["dominant"], colnames=["predicted"])
)
print(clf.expert_scores(X_test, y[test]).round(3).to_string())
