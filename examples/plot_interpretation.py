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
# Default settings apart from a smaller network, which keeps this example
# well under a minute on a CPU, and a fixed number of epochs. The default
# mixture builds every expert to its kind: the uniqueness expert of ``m0``
# sees ``m0`` only, the redundancy expert averages predictions that each
# modality makes alone, and the synergy expert keeps only what its
# modalities predict *together*.
#
# Why ``early_stopping=False``: with 630 training samples an epoch is five
# optimiser steps, and the default (epochs chosen on a held-out 20 %, then
# at least 10 on all the data) stops here before the reweighting network
# has learned which expert serves which samples: held-out accuracy 0.83
# instead of 0.90, and no synergy sample leans on the synergy expert. On
# small data where per-sample weights are the point, train ``max_epochs``.
clf = I2MoEClassifier(hidden_dim=32, n_tokens=2, early_stopping=False, random_state=0)
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
# weights move with it: the mean weight of each expert, by ground truth
# (each row should lean towards its own expert), and how often a sample's
# largest weight is on the expert of its own interaction.
weights = pd.DataFrame(explanation.weights, columns=clf.expert_names_)
truth = pd.Series(interaction[test], name="true interaction")
print(weights.groupby(truth.to_numpy()).mean().round(3).to_string())
largest = weights.idxmax(axis=1)
print((largest == truth).groupby(truth).mean().round(3).rename("largest weight on it"))

# %%
# Read these per-sample weights with care. Here a sample's interaction shows
# in its features only as *which* rotated factors are active, and 630
# training samples are few to learn that from: most redundancy samples lean
# on the redundancy expert, but the uniqueness samples spread their weight
# over the uniqueness expert of ``m0``, the redundancy and the synergy
# expert, and fewer than one in three lean most on their own. Where the mechanism is
# easy to read from the features, the weights route samples sharply (each
# expert's weight picks out its own samples with an AUC of 1.00 with the
# defaults, 2,000 samples, ``benchmarks/README.md``, mixed data). Weights
# of a whole data set, tested on held-out data, are the firmer ground: see
# the report below.

# %%
# A check worth making on any fitted mixture: the mean weights by
# *predicted class*. A reweighting network that learned the label itself
# would send each class to an expert that votes for that class; the rows
# would then differ much more than the rows above. Here they do not.
print(weights.groupby(clf.predict(X_test)).mean().round(3).to_string())

# %%
# Local view: one prediction
# --------------------------
# For one synergy sample, each expert's logit for the predicted class, its
# weight, and its contribution ``weight * logit`` (the default averages four
# mixtures, so each of these is the mean over the four); the contributions
# add up to the mixture's logit (dashed line).
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
# Evidence for a whole data set: the interaction report
# -----------------------------------------------------
# :func:`~sk_i2moe.inspection.interaction_report` turns the weights into a
# claim only where held-out data back it: the mixture must beat chance, a
# uniqueness expert's modality must beat every other modality on its own
# while the others add little to it (and no other modality's own features,
# in a linear model, predict what that modality's expert missed), the
# synergy expert must beat the best
# single modality, the redundancy expert and the single-modality predictions
# added up, and lose most of its gain when made additive across some
# modality (the report swaps that modality between paired samples to build
# the additive version), and the redundancy expert needs two modalities
# whose predictions agree across the samples more than their errors do once
# the label is known (they share information). On data with one interaction
# throughout, its ``dominant`` names it. Here every modality carries the same
# information about the label (redundancy) and a fourth modality is pure
# noise. The weight intervals
# also cover the spread between the default's four members, which is why
# they are wide where the members share the weight differently.
from sk_i2moe.inspection import interaction_report


def report_on(data, labels, seed=0):
    """Fit on 70 % of the samples, report on the other 30 %."""
    fit, held = train_test_split(
        np.arange(len(labels)), test_size=0.3, stratify=labels, random_state=seed
    )
    model = I2MoEClassifier(hidden_dim=32, n_tokens=2, random_state=seed)
    model.fit({k: v[fit] for k, v in data.items()}, labels[fit])
    return interaction_report(model, {k: v[held] for k, v in data.items()}, labels[held])


X_pure, y_pure, _ = make_interaction_classification("redundancy", n_samples=900, random_state=1)
X_pure["noise"] = np.random.default_rng(1).normal(size=(900, 8))
print(report_on(X_pure, y_pure).summary())

# %%
# The same data with the labels shuffled: whatever the network memorised,
# nothing is supported, and the report says so.
y_shuffled = np.random.default_rng(0).permutation(y_pure)
shuffled = report_on(X_pure, y_shuffled)
print("dominant on shuffled labels:", shuffled.dominant)
print(shuffled.table[["mean_weight", "skill", "skill_low", "supported"]].round(3))

# %%
# Modalities that inform the label separately: each carries its own factor
# and the label's log-odds add the three up. Nothing is shared and nothing
# needs the modalities jointly, so neither redundancy nor synergy is
# supported, whatever the weights lean on (the synergy expert can learn an
# added-up signal too: it sees which modalities are present); and no
# modality's uniqueness is the answer either: a uniqueness claim needs the
# modality alone to beat chance *and* the other modalities alone, and here
# each modality is about as good as the others (the ``reason`` column says
# which test each expert failed on these held-out rows).
rng = np.random.default_rng(2)
X_added = {f"m{m}": rng.normal(size=(900, 6)) for m in range(3)}
log_odds = sum(1.5 * X_added[f"m{m}"][:, 0] for m in range(3))
y_added = (rng.random(900) < 1 / (1 + np.exp(-log_odds))).astype(int)
added = report_on(X_added, y_added)
print("dominant when the modalities add up:", added.dominant)
print(added.table[["mean_weight", "supported", "reason"]].round(2).to_string())

# %%
# Show the figures when run as a script.
import matplotlib.pyplot as plt

plt.show()
