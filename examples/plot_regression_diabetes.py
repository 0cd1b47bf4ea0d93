"""
Regression: demographics and serum measurements of diabetes patients
====================================================================

scikit-learn's diabetes data predict disease progression one year after
baseline from ten measurements of 442 patients. They split naturally into two
modalities: *demographics* (age, sex, body-mass index, blood pressure) and
*serum* measurements (six blood tests, ``s1``-``s6``). We fit an
:class:`~sk_i2moe.I2MoERegressor`, compare it with a linear baseline, and
explain predictions in the target's own units.
"""

# %%
# Two modalities from one table
# -----------------------------
# With a DataFrame, ``modalities={name: columns}`` says which columns form
# each modality (names, positions, slices or boolean masks; every column must
# belong to exactly one).
import matplotlib.pyplot as plt
import pandas as pd
from sklearn.datasets import load_diabetes
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import train_test_split

from sk_i2moe import I2MoERegressor
from sk_i2moe.inspection import expert_scores
from sk_i2moe.plotting import plot_interaction_weights, plot_sample_explanation

data = load_diabetes(as_frame=True)
X, y = data.data, data.target
modalities = {
    "demographics": ["age", "sex", "bmi", "bp"],
    "serum": ["s1", "s2", "s3", "s4", "s5", "s6"],
}
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
print(X.shape, f"target from {y.min():.0f} to {y.max():.0f}")

# %%
# Fit and compare with a linear model
# -----------------------------------
# The regressor standardises the target internally and trains with the
# smooth-L1 loss (``loss="mse"`` is the alternative); predictions come back
# in the target's units. A ridge regression is a strong baseline on these
# data: 442 patients leave little room for a network to find more.
reg = I2MoERegressor(modalities=modalities, max_epochs=40, hidden_dim=32, random_state=0)
reg.fit(X_train, y_train)
ridge = RidgeCV().fit(X_train, y_train)
print(f"I2MoE held-out R^2: {reg.score(X_test, y_test):.3f}")
print(f"Ridge held-out R^2: {ridge.score(X_test, y_test):.3f}")

# %%
# With two modalities there are four experts: a uniqueness expert for each,
# synergy and redundancy.
print(reg.modalities_)
print(pd.Series(reg.interaction_weights_, index=reg.expert_names_).round(3).to_string())

# %%
# How the test patients are routed
# --------------------------------
# The distribution of each expert's weight over the held-out patients.
explanation = reg.explain(X_test)
print(explanation.summary().round(3).to_string())
plot_interaction_weights(explanation, kind="box")

# %%
# One patient, in target units
# ----------------------------
# For a regressor, each expert's output is already in the target's units
# (the internal standardisation is undone), and its contribution is
# ``weight * output`` (for the default ensemble, the members' mean of each
# member's); the contributions add up to the prediction. Here is
# the patient with the largest predicted progression.
index = int(explanation.output[:, 0].argmax())
print(f"prediction {reg.predict(X_test.iloc[[index]])[0]:.1f}, observed {y_test.iloc[index]:.0f}")
plot_sample_explanation(explanation, index)

# %%
# Each expert on its own
# ----------------------
# :func:`~sk_i2moe.inspection.expert_scores` computes R^2 of every expert's
# own output next to the mixture's. In the default mixture every expert is
# trained to predict the target *alone* (its own task loss; the mixture's loss
# trains only the weights), so the experts are complete predictors: an expert
# that scores close to the mixture, as the heavily weighted one does here,
# can carry the predictions by itself, and one with a large weight but a poor
# score would only help in combination. Whether the held-out evidence backs
# an expert's *interaction* is the interaction report's question (see
# :ref:`interpretation`).
scores = expert_scores(reg, X_test, y_test)
print(scores.round(3).to_string())
plt.show()
