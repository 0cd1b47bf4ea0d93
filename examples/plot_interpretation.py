"""
Reading an I2MoE model: interaction weights, one prediction, expert scores
==========================================================================

I2MoE predicts with a mixture of *interaction experts*: one *uniqueness*
expert per modality, a *synergy* and a *redundancy* expert. Every sample
gets a weight per expert, so a fitted model can be read at three levels:

* **globally**, the distribution of each expert's weight over a data set;
* **locally**, how one prediction adds up from the experts' outputs;
* **per expert**, how well each expert predicts on its own, against the
  whole mixture.

We use synthetic data whose interaction is known for every sample, fit a
small model, and draw the three plots of :mod:`sk_i2moe.plotting`.
"""

# %%
# Data with known interactions
# ----------------------------
# :func:`~sk_i2moe.datasets.make_interaction_classification` builds three
# modalities ``m0``, ``m1``, ``m2``. A third of the samples have a label
# decided by a factor private to ``m0`` (uniqueness), a third by the XOR of
# factors of ``m0`` and ``m1`` (synergy: neither alone says anything), and a
# third by a factor every modality observes (redundancy). ``interaction``
# holds the ground truth of every sample.
import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from sk_i2moe import I2MoEClassifier
from sk_i2moe.datasets import make_interaction_classification
from sk_i2moe.inspection import expert_scores
from sk_i2moe.plotting import (
    plot_expert_scores,
    plot_interaction_weights,
    plot_sample_explanation,
)

X, y, interaction = make_interaction_classification(
    {"uniqueness": 1 / 3, "synergy": 1 / 3, "redundancy": 1 / 3},
    n_samples=900,
    random_state=0,
)
train, test = train_test_split(np.arange(len(y)), test_size=0.3, stratify=y, random_state=0)
X_train = {name: block[train] for name, block in X.items()}
X_test = {name: block[test] for name, block in X.items()}
print({name: block.shape for name, block in X.items()})
print(pd.Series(interaction).value_counts())

# %%
# Fit a small model
# -----------------
# A small network and a few epochs keep this example well under a minute on
# a CPU.
clf = I2MoEClassifier(hidden_dim=32, n_tokens=2, max_epochs=25, random_state=0)
clf.fit(X_train, y[train])
print(f"held-out accuracy: {clf.score(X_test, y[test]):.3f}")

# %%
# Global view: the distribution of the interaction weights
# --------------------------------------------------------
# :meth:`~sk_i2moe.I2MoEClassifier.explain` gives every test sample's
# weights; :meth:`~sk_i2moe.inspection.Explanation.summary` tabulates them
# and :func:`~sk_i2moe.plotting.plot_interaction_weights` draws them. The
# dotted line is the uniform weight ``1 / 5``.
explanation = clf.explain(X_test)
print(explanation.summary().round(3))
plot_interaction_weights(explanation)

# %%
# Since we know each sample's true interaction, we can ask whether the
# weights move with it: the mean weight of each expert, by ground truth.
# If they do, each row leans towards its own expert.
weights = pd.DataFrame(explanation.weights, columns=clf.expert_names_)
print(weights.groupby(interaction[test]).mean().round(3).to_string())

# %%
# A check worth making on any fitted mixture: the mean weights by
# *predicted class*. The reweighting network sees the same embeddings as
# the experts, so it can learn the label itself and send each class to an
# expert that votes for that class. When the rows below differ much more
# than the rows above, the weights describe the label more than the
# interaction, and the expert scores below (experts alone near chance)
# confirm it.
print(weights.groupby(clf.predict(X_test)).mean().round(3).to_string())

# %%
# Local view: one prediction
# --------------------------
# For one synergy sample, each expert's logit for the predicted class, its
# weight, and its contribution ``weight * logit``; the contributions add up
# to the mixture's logit (dashed line).
index = int(np.flatnonzero(interaction[test] == "synergy")[0])
plot_sample_explanation(explanation, index)

# %%
# Each expert alone against the mixture
# -------------------------------------
# :func:`~sk_i2moe.inspection.expert_scores` scores every expert's own
# prediction (accuracy here) next to the mixture's. An expert that matches
# the mixture can solve the task alone; the mixture beating every expert by
# far means it only predicts well in combination (for instance, when the
# weights themselves carry the class).
scores = expert_scores(clf, X_test, y[test])
print(scores.round(3))
plot_expert_scores(scores)

# %%
# Show the figures when run as a script.
import matplotlib.pyplot as plt

plt.show()
