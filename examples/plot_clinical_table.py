"""
Getting started on a clinical table
===================================

A real clinical table, start to finish: the NCCTG lung-cancer cohort (228
patients with advanced lung cancer; Loprinzi et al., J Clin Oncol 1994),
read from the data files of the ``lifelines`` package. It has the usual
frictions: missing values, a categorical performance score, raw units. We
predict death within one year from three modalities (demographics, the
physician's assessment, the patient's own report), tune and calibrate the
model, then ask what the predictions rely on and what they need, and
explain single patients by their ids.
"""

# %%
# The raw table
# -------------
# The file is read straight from the installed ``lifelines`` wheel (nothing
# is imported from it, nothing is copied into this project).
from importlib.metadata import distribution

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline

from sk_i2moe import I2MoEClassifier
from sk_i2moe.inspection import expert_scores, explain, interaction_report, modality_importance
from sk_i2moe.plotting import plot_interaction_weights, plot_sample_explanation
from sk_i2moe.preprocessing import make_modality_transformer

raw = pd.read_csv(distribution("lifelines").locate_file("lifelines/datasets/lung.csv"))
raw.index = pd.Index([f"patient-{i:03d}" for i in range(len(raw))], name="patient")
print(raw.shape)
print(raw.isna().sum().to_string())

# %%
# The outcome: death within a year
# --------------------------------
# ``status`` is 1 for a death at ``time`` days and 0 for a patient last seen
# alive then. A patient last seen alive before day 365 has an unknown
# one-year outcome; they are left out, explicitly, and counted. The outcome
# columns and the institution code leave the table: a column that no modality
# lists is refused when the pipeline is fitted, so nothing is dropped unseen.
known = (raw["time"] > 365) | (raw["status"] == 1)
print(f"{(~known).sum()} patients censored before one year are left out")
y = ((raw["time"] <= 365) & (raw["status"] == 1))[known].astype(int).to_numpy()
table = raw[known].drop(columns=["inst", "time", "status"])
print(f"{len(y)} patients, {y.mean():.0%} died within a year")

# %%
# Three modalities, mixed types
# -----------------------------
# Sex is a category and the ECOG performance grade an ordinal one (grades 2
# and 3 merged: one patient has grade 3, which a cross-validation fold would
# not see when fitting, and the transformer would warn of); the rest
# are numbers, several with missing values. ``make_modality_transformer``
# builds one imputing, scaling and encoding transformer per modality, told
# numbers from categories by dtype; the estimator splits its output back into
# the three modalities.
table["sex"] = table["sex"].map({1: "male", 2: "female"})
table["ph.ecog"] = table["ph.ecog"].map(
    lambda g: np.nan if g != g else "ECOG 2-3" if g >= 2 else f"ECOG {g:.0f}"
)
modalities = {
    "demographics": ["age", "sex"],
    "physician": ["ph.ecog", "ph.karno"],
    "patient": ["pat.karno", "meal.cal", "wt.loss"],
}
X_train, X_test, y_train, y_test = train_test_split(
    table, y, test_size=0.3, stratify=y, random_state=0
)
pipe = make_pipeline(
    make_modality_transformer(modalities),
    I2MoEClassifier(interaction_constraint="structure", max_epochs=30, random_state=0),
)

# %%
# Tune and calibrate
# ------------------
# A small grid over the model's size, scored by ROC-AUC in 3-fold
# cross-validation; then the probabilities are calibrated (isotonic on
# held-out folds would need more patients: sigmoid).
search = GridSearchCV(
    pipe,
    {"i2moeclassifier__hidden_dim": [16, 64], "i2moeclassifier__lr": [2e-3, 5e-3]},
    scoring="roc_auc",
    cv=3,
).fit(X_train, y_train)
print("best", search.best_params_, f"cv ROC-AUC {search.best_score_:.3f}")
best = search.best_estimator_
calibrated = CalibratedClassifierCV(best, method="sigmoid", cv=3).fit(X_train, y_train)
for name, model in [("tuned", best), ("calibrated", calibrated)]:
    proba = model.predict_proba(X_test)[:, 1]
    print(
        f"{name:>10}: held-out ROC-AUC {roc_auc_score(y_test, proba):.3f}, "
        f"Brier {brier_score_loss(y_test, proba):.3f}"
    )

# %%
# What the predictions rely on, with evidence
# -------------------------------------------
# The interaction report uses the held-out patients only. ``dominant`` is, of
# the experts whose kind of interaction the held-out evidence supports, the
# one the predictions lean on most, and None when it supports none; each row
# says why.
report = interaction_report(best, X_test, y_test, random_state=0)
print(report.summary())

# %%
# Read the first lines before the table: one-year mortality in this small
# cohort is hard to predict from these variables (a held-out ROC-AUC around
# 0.6, a skill interval that reaches 0). When the mixture is not clearly
# better than chance on held-out patients, the report supports no
# interaction, whatever the weights look like. This is the answer to write
# in a paper: the weights below describe how the model composed its
# predictions, not an interaction the data show.

# %%
# The weights by outcome, with the report's intervals:
exp = explain(best, X_test)
ax = plot_interaction_weights(
    exp, by=np.where(y_test == 1, "died within a year", "alive at a year"), report=report
)
plt.show()

# %%
# What the predictions need
# -------------------------
# Weights say how a prediction is composed, not what it needs. Shuffling a
# whole modality across patients and measuring the drop of ROC-AUC does; so
# do the experts' own scores.
print(expert_scores(best, X_test, y_test, scoring="roc_auc").round(3).to_string())
importance = modality_importance(
    best, X_test, y_test, scoring="roc_auc", n_repeats=20, random_state=0
)
print(importance[["importance_mean", "importance_std"]].round(3).to_string())

# %%
# One patient
# -----------
# Explanations keep the patients' ids. On the log-odds of death within a
# year the experts' contributions add up to the model's log-odds; the title
# gives the predicted probability.
frame = exp.to_frame()
print(frame[frame["sample"] == X_test.index[0]][["sample", "expert", "weight"]].to_string())
fig = plot_sample_explanation(exp.log_odds(), 0)
plt.show()
