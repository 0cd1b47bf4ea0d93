"""
A clinical table: ColumnTransformer, grid search and calibration
================================================================

Clinical data usually arrives as one wide table: lab values, vital signs,
a categorical ward, embeddings of the admission notes. This example keeps
every step inside scikit-learn:

1. a :class:`~sklearn.compose.ColumnTransformer` preprocesses each group of
   columns and, with ``set_output(transform="pandas")``, names its output
   columns ``<group>__<feature>``;
2. :class:`~sk_i2moe.I2MoEClassifier` turns those prefixes into modalities,
   so the pipeline needs no ``modalities=`` argument;
3. :class:`~sklearn.model_selection.GridSearchCV` tunes the pipeline;
4. :class:`~sklearn.calibration.CalibratedClassifierCV` calibrates its
   probabilities.

The data are synthetic, so the example runs anywhere (in about 20 seconds
on two CPU cores).
"""

# %%
# A synthetic admissions table
# ----------------------------
# Five lab values, four vital signs, the ward (a categorical column) and an
# 8-dimensional embedding of the admission note. The outcome depends on the
# labs (inflammation: CRP and lactate), on a vital sign *together with* the
# ward (a high heart rate matters in intensive care), and on the note, which
# partly repeats what the labs say.
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV, CalibrationDisplay
from sklearn.compose import ColumnTransformer
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from sk_i2moe import I2MoEClassifier

rng = np.random.default_rng(0)
n = 500
ward = rng.choice(["icu", "surgery", "medicine"], size=n, p=[0.3, 0.35, 0.35])
inflammation = rng.standard_normal(n)
df = pd.DataFrame(
    {
        "hb": rng.normal(13, 1.8, n),
        "crp": np.exp(1.5 + 0.9 * inflammation + 0.3 * rng.standard_normal(n)),
        "wbc": rng.normal(8, 2.5, n) + 1.5 * inflammation,
        "creatinine": rng.lognormal(0, 0.3, n),
        "lactate": np.exp(0.3 + 0.35 * inflammation + 0.2 * rng.standard_normal(n)),
        "hr": rng.normal(85, 15, n),
        "sbp": rng.normal(125, 18, n),
        "temp": rng.normal(37.1, 0.6, n) + 0.3 * inflammation,
        "spo2": np.clip(rng.normal(96, 2, n), 85, 100),
        "ward": ward,
    }
)
note = rng.standard_normal((n, 8))
note[:, 0] += 0.8 * inflammation  # the note partly repeats the labs
for k in range(note.shape[1]):
    df[f"svd{k}"] = note[:, k]

logit = (
    1.2 * inflammation + 1.5 * ((df["hr"] > 95) & (df["ward"] == "icu")) + 0.6 * note[:, 1] - 0.8
)
y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
print(df.head(3).round(2).to_string())
print(f"positive rate: {y.mean():.2f}")

df_train, df_test, y_train, y_test = train_test_split(
    df, y, test_size=0.3, stratify=y, random_state=0
)

# %%
# Preprocessing with prefixes
# ---------------------------
# Each transformer's name becomes the prefix of its output columns, and each
# prefix becomes a modality: ``labs``, ``vitals``, ``ward`` and ``note``, in
# the transformers' order. Two things keep the prefixes: the default
# ``verbose_feature_names_out=True``, and transformers that know their output
# names (hence ``feature_names_out="one-to-one"`` on the
# :class:`~sklearn.preprocessing.FunctionTransformer`; without it the table's
# columns come out as ``tmp_col_name_...`` and every column would fall into a
# single modality ``"x"``).
labs = ["hb", "crp", "wbc", "creatinine", "lactate"]
vitals = ["hr", "sbp", "temp", "spo2"]
notes = [f"svd{k}" for k in range(8)]
log_scale = make_pipeline(
    FunctionTransformer(np.log1p, feature_names_out="one-to-one"), StandardScaler()
)
prep = ColumnTransformer(
    [
        ("labs", log_scale, labs),
        ("vitals", StandardScaler(), vitals),
        ("ward", OneHotEncoder(sparse_output=False, handle_unknown="ignore"), ["ward"]),
        ("note", "passthrough", notes),
    ]
).set_output(transform="pandas")
print(list(prep.fit_transform(df_train).columns))

# %%
# Grid search over the pipeline
# -----------------------------
# Few epochs and a small network keep the search fast; on real data use the
# defaults or more epochs, and tune ``interaction_loss_weight`` and the
# network size (see :ref:`hyperparameters`). To run the candidates in
# parallel, pass ``n_jobs`` to the search and set the estimator's
# ``n_threads`` to about ``cores // n_jobs`` (see :ref:`scaling`).
pipe = Pipeline(
    [
        ("prep", prep),
        ("clf", I2MoEClassifier(max_epochs=10, hidden_dim=32, random_state=0)),
    ]
)
grid = {"clf__interaction_loss_weight": [0.05, 0.3]}
search = GridSearchCV(pipe, grid, cv=3, scoring="roc_auc")
search.fit(df_train, y_train)

results = pd.DataFrame(search.cv_results_)
columns = ["param_clf__interaction_loss_weight", "mean_test_score"]
print(results[columns + ["std_test_score", "mean_fit_time"]].round(3).to_string(index=False))
print("best:", search.best_params_)

# %%
# The fitted classifier found its modalities from the column prefixes.
best = search.best_estimator_
print(best[-1].modalities_)
print(pd.Series(best[-1].interaction_weights_, index=best[-1].expert_names_).round(3).to_string())
print(f"held-out ROC-AUC: {roc_auc_score(y_test, best.predict_proba(df_test)[:, 1]):.3f}")

# %%
# Calibrated probabilities
# ------------------------
# A network's probabilities need not be calibrated: early stopping, a
# small data set or class weights can all leave them over- or
# under-confident. (The default classifier already divides its outputs by a
# temperature fitted on held-out rows, which can soften over-confident
# probabilities but never sharpen them.) :class:`~sklearn.calibration.CalibratedClassifierCV`
# refits the whole pipeline on cross-validation folds and maps its scores
# through a sigmoid (Platt scaling); the estimator is cloned, so the best
# parameters carry over. The reliability diagram shows whether it was
# needed: points on the diagonal are calibrated probabilities.
calibrated = CalibratedClassifierCV(best, method="sigmoid", cv=3)
calibrated.fit(df_train, y_train)

raw = best.predict_proba(df_test)[:, 1]
cal = calibrated.predict_proba(df_test)[:, 1]
print(f"Brier score, before Platt scaling: {brier_score_loss(y_test, raw):.4f}")
print(f"Brier score, after Platt scaling:  {brier_score_loss(y_test, cal):.4f}")

fig, ax = plt.subplots(figsize=(5, 5))
CalibrationDisplay.from_predictions(y_test, raw, n_bins=8, name="I2MoE", ax=ax)
CalibrationDisplay.from_predictions(y_test, cal, n_bins=8, name="I2MoE + sigmoid", ax=ax)
ax.set_title("Reliability on the held-out admissions")
plt.show()
