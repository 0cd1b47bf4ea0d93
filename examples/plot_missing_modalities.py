"""
Patients without a lab panel: fit, predict and explain without imputing it
==========================================================================

In clinical data a whole modality is often missing for a patient: no lab
panel was drawn, no imaging was done. Imputing a whole panel invents values
that the explanation never mentions; dropping the patient (what the paper's
public code does) throws away everything else we know about them.

``I2MoEClassifier`` takes a modality that is **all NaN in a row** as
*absent* for that patient. It trains on every patient with whatever they
have, and for a patient without labs the experts that need the labs get
weight exactly 0: the prediction rests on the modalities the patient has,
and the explanation says so.
"""

# %%
# A clinical-style table with a lab panel missing for a third of patients
# -------------------------------------------------------------------------
# Synthetic data with three modalities, renamed ``vitals``, ``labs`` and
# ``notes`` (an embedding of the admission note). The outcome depends on a
# factor that every modality carries a noisy copy of (redundancy), so a
# patient without labs can still be predicted from the other two.
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from sk_i2moe import I2MoEClassifier
from sk_i2moe.datasets import make_interaction_classification
from sk_i2moe.inspection import interaction_report
from sk_i2moe.plotting import plot_interaction_weights, plot_sample_explanation

X, y, _ = make_interaction_classification("redundancy", n_samples=600, noise=1.0, random_state=3)
X = dict(zip(["vitals", "labs", "notes"], X.values()))
ids = pd.Index([f"patient-{i:03d}" for i in range(len(y))], name="patient")
rng = np.random.default_rng(0)
no_labs = rng.random(len(y)) < 1 / 3
X["labs"][no_labs] = np.nan  # the whole panel is absent for these patients
frames = {k: pd.DataFrame(v, index=ids).add_prefix(f"{k}_") for k, v in X.items()}
table = pd.concat(frames.values(), axis=1)
modalities = {k: list(f.columns) for k, f in frames.items()}
print(f"{no_labs.sum()} of {len(y)} patients have no lab panel")

X_train, X_test, y_train, y_test = train_test_split(
    table, y, test_size=0.3, stratify=y, random_state=0
)

# %%
# Fit on every patient
# --------------------
# Nothing to impute: the absent panels stay NaN. (NaN in only *some* lab
# columns would be an error: impute those inside the pipeline.)
clf = I2MoEClassifier(modalities=modalities, hidden_dim=32, n_tokens=2, random_state=0)
clf.fit(X_train, y_train)
test_no_labs = X_test["labs_0"].isna().to_numpy()
proba = clf.predict_proba(X_test)[:, 1]
print(f"held-out ROC-AUC, all patients:     {roc_auc_score(y_test, proba):.3f}")
print(
    "held-out ROC-AUC, patients w/o labs: "
    f"{roc_auc_score(y_test[test_no_labs], proba[test_no_labs]):.3f}"
)

# %%
# The alternative: complete cases only
# ------------------------------------
# The paper's code keeps only patients with every modality. Trained that
# way, the model has never met a patient without labs; we predict them by
# filling in the training means, the usual workaround. One split of a small
# data set says little about which is better: ``benchmarks/README.md``
# compares the two (and mean imputation, gradient boosting with NaN, and
# logistic regression with missing indicators) over folds, data sets and
# missing rates. What the native model adds in any case is an explanation
# that knows which patients lacked labs.
complete = ~X_train["labs_0"].isna().to_numpy()
dropped = I2MoEClassifier(modalities=modalities, hidden_dim=32, n_tokens=2, random_state=0)
dropped.fit(X_train[complete], y_train[complete])
filled = X_test.fillna(X_train[complete].mean())
proba_dropped = dropped.predict_proba(filled)[:, 1]
print(f"complete cases only: {complete.sum()} training patients instead of {len(y_train)}")
print(f"held-out ROC-AUC, all patients:     {roc_auc_score(y_test, proba_dropped):.3f}")

# %%
# Explaining a patient without labs
# ---------------------------------
# :meth:`~sk_i2moe.I2MoEClassifier.explain` records which modalities each
# patient lacked (``absent``, and an ``absent`` column in ``to_frame()``);
# the uniqueness expert of the labs has weight 0 for them and the plot's
# title names the missing panel. What the missing panel says by itself goes
# to ``absence_offset`` (on by default), added to the output outside the
# experts: where labs were missing more often in one class, it would move
# these patients towards that class. Here they are missing at random, so it
# stays small; the last section shows a panel that is not.
explanation = clf.explain(X_test).log_odds()
row = int(np.flatnonzero(test_no_labs)[0])
print(explanation.to_frame().query("sample == @X_test.index[@row]").round(3).to_string())
print(f"what the missing labs add to the log-odds: {explanation.absence_offset[row, 0]:+.3f}")
plot_sample_explanation(explanation, row)

# %%
# The weights over all held-out patients: each expert is drawn over the
# patients that have the modalities it needs.
plot_interaction_weights(explanation)

# %%
# The interaction report, too, evaluates each expert on the patients that
# could use it (``n_usable``): the labs' uniqueness expert on the patients
# with labs, the redundancy expert on everyone.
report = interaction_report(clf, X_test, y_test)
print(report.summary())

# %%
# When the absence itself says something
# --------------------------------------
# Labs are often drawn for the patients a clinician already worries about;
# then a missing panel is evidence in itself. Here a patient of class 1 lacks
# the labs with probability 0.1 and one of class 0 with probability 0.5
# (missing *not at random*). No expert reads whether the panel is missing:
# without the absence offset, a patient without labs is predicted from the
# vitals and notes they have (which carry the label here too); the offset
# adds what the missing panel itself says. Fitted with and without it, on the
# same split:
X_mnar, y_mnar, _ = make_interaction_classification(
    "redundancy", n_samples=600, noise=1.0, random_state=3
)
X_mnar = dict(zip(["vitals", "labs", "notes"], X_mnar.values()))
lacks_labs = rng.random(len(y_mnar)) < np.where(y_mnar == 1, 0.1, 0.5)
X_mnar["labs"][lacks_labs] = np.nan
fit_rows, held_rows = train_test_split(
    np.arange(len(y_mnar)), test_size=0.3, stratify=y_mnar, random_state=0
)
X_fit = {k: v[fit_rows] for k, v in X_mnar.items()}
X_held = {k: v[held_rows] for k, v in X_mnar.items()}
held_lacking = lacks_labs[held_rows]
rate = y_mnar[held_rows][held_lacking].mean()
print(f"class-1 rate among held-out patients without labs: {rate:.2f}")
models = {}
for offset in (True, False):
    models[offset] = I2MoEClassifier(
        hidden_dim=32, n_tokens=2, absence_offset=offset, random_state=0
    ).fit(X_fit, y_mnar[fit_rows])
    p = models[offset].predict_proba(X_held)[:, 1]
    print(
        f"absence_offset={offset!s:5}: held-out ROC-AUC {roc_auc_score(y_mnar[held_rows], p):.3f}, "
        f"mean p(class 1) without labs {p[held_lacking].mean():.2f}"
    )

# %%
# The report's absence line measures the offsets on held-out patients: the
# mixture's skill on the patients who lack a modality, with and without what
# their absences add. An offset that helps only on the training patients
# would show no gain here.
absence = interaction_report(models[True], X_held, y_mnar[held_rows]).absence
print(
    f"{absence['n_samples']} held-out patients lack a modality: skill "
    f"{absence['skill']:.3f} with their offsets, {absence['skill_without_offsets']:.3f} without"
)

# %%
# Show the figures when run as a script.
import matplotlib.pyplot as plt

plt.show()
