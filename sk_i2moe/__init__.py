"""sk_i2moe: interpretable multimodal interaction-aware mixture of experts for scikit-learn."""

from ._io import load
from .classifier import I2MoEClassifier
from .regressor import I2MoERegressor

__version__ = "0.1.0"

__all__ = ["I2MoEClassifier", "I2MoERegressor", "__version__", "load"]
