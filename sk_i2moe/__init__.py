"""sk_i2moe: interpretable multimodal interaction-aware mixture of experts for scikit-learn."""

from .classifier import I2MoEClassifier

__version__ = "0.1.0"

__all__ = ["I2MoEClassifier", "__version__"]
