"""preprocessing.make_modality_transformer: mixed-type tables into the intended modalities."""

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

from sk_i2moe import I2MoEClassifier
from sk_i2moe.preprocessing import make_modality_transformer


def _clinical(n=120, seed=0):
    rng = np.random.default_rng(seed)
    table = pd.DataFrame(
        {
            "age": rng.normal(60, 10, n),
            "sex": rng.choice(["f", "m"], n),
            "tumour_size": rng.gamma(2.0, 1.0, n),
            "grade": pd.Categorical(rng.choice(["I", "II", "III"], n)),
            "chemo": rng.choice(["yes", "no"], n),
            "dose": rng.normal(50, 5, n),
        }
    )
    table.loc[rng.random(n) < 0.1, "age"] = np.nan
    table.loc[rng.random(n) < 0.1, "sex"] = np.nan
    y = ((table["tumour_size"] > 2) ^ (table["chemo"] == "yes")).astype(int).to_numpy()
    return table, y


MODALITIES = {
    "demographics": ["age", "sex"],
    "tumour": ["tumour_size", "grade"],
    "treatment": ["chemo", "dose"],
}


def test_the_estimator_sees_the_intended_modalities():
    table, y = _clinical()
    pipe = make_pipeline(
        make_modality_transformer(MODALITIES),
        I2MoEClassifier(max_epochs=2, hidden_dim=8, n_tokens=2, random_state=0, n_threads=1),
    )
    pipe.fit(table, y)
    clf = pipe[-1]
    assert list(clf.modalities_) == ["demographics", "tumour", "treatment"]
    # age (scaled) + sex one-hot (f, m); size + grade one-hot (I, II, III); chemo (no, yes) + dose
    assert clf.modalities_ == {"demographics": 3, "tumour": 4, "treatment": 3}
    assert clf.expert_names_[:3] == [
        "uniqueness[demographics]", "uniqueness[tumour]", "uniqueness[treatment]",
    ]
    assert pipe.predict_proba(table.iloc[:5]).shape == (5, 2)
    out = pipe[0].transform(table)
    assert not out.isna().any().any()  # imputed
    assert "demographics__num__age" in out and "tumour__cat__grade_III" in out


def test_custom_steps_are_cloned_per_modality():
    table, _ = _clinical()
    numbers = table[["age", "tumour_size", "dose"]].fillna(0.0)
    scaler = MinMaxScaler()
    transformer = make_modality_transformer(
        {"a": ["age", "tumour_size"], "b": ["dose"]}, numeric=scaler
    ).fit(numbers)
    out = transformer.transform(numbers)
    assert out.min().min() == pytest.approx(0.0) and out.max().max() == pytest.approx(1.0)
    assert not hasattr(scaler, "data_min_")  # the user's object is left unfitted
    assert transformer.named_transformers_["a"].named_transformers_["num"] is not scaler


@pytest.mark.parametrize("bad", [{}, {"": ["age"]}, {"demo__x": ["age"]}, ["age"]])
def test_bad_modality_specs_are_named(bad):
    with pytest.raises(ValueError, match="(?i)modalit"):
        make_modality_transformer(bad)
