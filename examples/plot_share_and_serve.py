"""
Share and serve a model
=======================

A model that leaves your notebook goes to a colleague, a repository or a
prediction service. This example saves a fitted classifier as a model file
that is safe to open (weights and JSON, no pickle), loads it back, checks
that nothing changed, and exports it to ONNX for a runtime that needs
neither Python nor torch, patients lacking a modality included.
"""

# %%
# Fit on a clinical-style table
# -----------------------------
# Three modalities of the breast-cancer measurements stand in for lab panels.
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from sk_i2moe import I2MoEClassifier, load
from sk_i2moe.datasets import load_breast_cancer_views

X, y = load_breast_cancer_views()
train, test = train_test_split(np.arange(len(y)), test_size=0.25, stratify=y, random_state=0)
X_train = {name: block[train] for name, block in X.items()}
X_test = {name: block[test] for name, block in X.items()}
clf = I2MoEClassifier(max_epochs=15, random_state=0).fit(X_train, y[train])
print(f"held-out accuracy {clf.score(X_test, y[test]):.3f}")

# %%
# Save and load: a file that holds data, not code
# -----------------------------------------------
# ``save`` writes one safetensors file: the weights as tensors, everything
# else (parameters, modality layout, classes, history, versions) as JSON in
# its metadata. :func:`~sk_i2moe.load` parses that JSON and copies the
# tensors; nothing in the file is executed, so a file someone sent you is
# safe to open. Predictions after the round trip are bitwise identical.
folder = Path(tempfile.mkdtemp())
path = folder / "breast_cancer.i2moe"
clf.save(path)
restored = load(path)
same = np.array_equal(restored.predict_proba(X_test), clf.predict_proba(X_test))
print(f"{path.name}: {path.stat().st_size / 1024:.0f} KiB, identical predictions: {same}")
print(restored.expert_names_)

# %%
# The metadata is plain JSON that anyone can read before loading anything:
import json

from safetensors import safe_open

with safe_open(path, framework="pt") as f:
    document = json.loads(f.metadata()["sk_i2moe"])
print({key: document[key] for key in ("format", "package_version", "estimator")})
print({key: document["params"][key] for key in ("fusion", "hidden_dim", "max_epochs")})

# %%
# Serve with ONNX
# ---------------
# ``to_onnx`` exports the mixture with one float32 input per modality, named
# after it, and ``predict_proba`` as its output, input standardisation
# included. Any ONNX runtime can serve it; here onnxruntime, the reference
# one.
import onnxruntime as ort

onnx_path = folder / "breast_cancer.onnx"
clf.to_onnx(onnx_path)
session = ort.InferenceSession(str(onnx_path))
print([(i.name, i.shape) for i in session.get_inputs()])
feeds = {name: block.astype(np.float32) for name, block in X_test.items()}
proba = session.run(None, feeds)[0]
gap = np.abs(proba - clf.predict_proba(X_test)).max()
print(f"largest difference to predict_proba: {gap:.1e}")

# %%
# A patient who lacks a modality is served the same way: send that modality
# as a row of NaN, as to ``predict_proba``. The graph gives the absent
# modality's experts no weight and adds its learned absence offset, as the
# estimator does (a row the estimator refuses, such as one with every
# modality absent, comes out as NaN).
incomplete = {name: block.copy() for name, block in X_test.items()}
first = next(iter(incomplete))
incomplete[first][:5] = np.nan  # five patients without the first view
feeds = {name: block.astype(np.float32) for name, block in incomplete.items()}
served, weights = (output[:5] for output in session.run(None, feeds))
gap = np.abs(served - clf.predict_proba(incomplete)[:5]).max()
print(f"without {first!r}: largest difference to predict_proba: {gap:.1e}")

# %%
# The graph's second output is every row's interaction weights, as
# :meth:`~sk_i2moe.I2MoEClassifier.explain` gives them; the model's metadata
# names the experts. The absent view's uniqueness expert gets no weight.
experts = json.loads(session.get_modelmeta().custom_metadata_map["expert_names"])
print(pd.DataFrame(weights, columns=experts).round(3))
