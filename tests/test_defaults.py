"""One definition of every default: the estimators, their docs and every lower layer agree."""

import ast
import inspect
import re

import pytest

from sk_i2moe import I2MoEClassifier, I2MoERegressor
from sk_i2moe._base import I2MoEBase
from sk_i2moe.nn import (
    DEFAULTS,
    FUSIONS,
    InteractionMoE,
    InteractionObjective,
    MixtureObjective,
    StructuredInteractionMoE,
    StructuredObjective,
)

LOWER_LAYERS = [
    InteractionMoE,
    StructuredInteractionMoE,
    InteractionObjective,
    MixtureObjective,
    StructuredObjective,
    *FUSIONS.values(),
]


def _defaults(cls):
    return {
        name: p.default
        for name, p in inspect.signature(cls).parameters.items()
        if p.default is not inspect.Parameter.empty
    }


@pytest.mark.parametrize("estimator", [I2MoEClassifier, I2MoERegressor])
def test_estimators_take_every_default_from_defaults(estimator):
    defaults = _defaults(estimator)
    shared = set(defaults) & set(DEFAULTS)
    assert shared == set(DEFAULTS), set(DEFAULTS) - shared  # every entry is a parameter
    for name in shared:
        assert defaults[name] == DEFAULTS[name], name


@pytest.mark.parametrize("cls", LOWER_LAYERS, ids=lambda c: c.__name__)
def test_lower_layers_share_the_estimators_defaults(cls):
    defaults = _defaults(cls)
    for name in set(defaults) & set(DEFAULTS):
        assert defaults[name] == DEFAULTS[name], f"{cls.__name__}.{name}"


@pytest.mark.parametrize("estimator", [I2MoEClassifier, I2MoERegressor])
def test_documented_defaults_are_the_defaults(estimator):
    documented = dict(re.findall(r"^    (\w+) : .*, default=(.+)$", estimator.__doc__, re.M))
    assert set(DEFAULTS) <= set(documented)
    for name, value in DEFAULTS.items():
        assert ast.literal_eval(documented[name]) == value, name


def test_the_base_class_is_documented():
    assert I2MoEBase.__doc__ and "Shared implementation" in I2MoEBase.__doc__
