import numpy as np
import pytest
import torch

# one torch thread: two spin-waiting threads per test collapse the suite on a loaded machine;
# tests about threads set their own count
torch.set_num_threads(1)


@pytest.fixture
def three_views():
    """Small three-modality binary problem whose label depends on all views."""
    rng = np.random.default_rng(0)
    n = 120
    X = {
        "labs": rng.normal(size=(n, 5)).astype(np.float32),
        "notes": rng.normal(size=(n, 4)).astype(np.float32),
        "codes": rng.normal(size=(n, 3)).astype(np.float32),
    }
    score = X["labs"][:, 0] + X["notes"][:, 1] - X["codes"][:, 2]
    y = (score > 0).astype(int)
    return X, y


@pytest.fixture
def saved(tmp_path):
    """A tiny fitted classifier saved to a model file: ``(path, estimator, X)``."""
    from sk_i2moe import I2MoEClassifier

    from .helpers import TINY, three_modalities

    X, y = three_modalities()
    clf = I2MoEClassifier(**TINY).fit(X, y)
    path = tmp_path / "model.i2moe"
    clf.save(path)
    return path, clf, X
