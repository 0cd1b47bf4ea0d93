"""The README demo: fit I2MoE on the three-view breast-cancer data and report.

Run with ``python examples/demo.py``.
"""

import time

import numpy as np
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import train_test_split

from sk_i2moe import I2MoEClassifier
from sk_i2moe.datasets import load_breast_cancer_views

X, y = load_breast_cancer_views()
train, test = train_test_split(np.arange(len(y)), test_size=0.25, stratify=y, random_state=0)
X_train = {name: block[train] for name, block in X.items()}
X_test = {name: block[test] for name, block in X.items()}

clf = I2MoEClassifier(random_state=0)
start = time.perf_counter()
clf.fit(X_train, y[train])
elapsed = time.perf_counter() - start

proba = clf.predict_proba(X_test)[:, 1]
print(f"device: {clf.net_.device}, fit time: {elapsed:.1f} s, epochs: {clf.n_iter_}")
print(f"held-out accuracy: {accuracy_score(y[test], clf.predict(X_test)):.3f}")
print(f"held-out ROC-AUC:  {roc_auc_score(y[test], proba):.3f}")
print("interaction weights (mean over training samples):")
for name, weight in zip(clf.expert_names_, clf.interaction_weights_):
    print(f"  {name:<20} {weight:.3f}")
