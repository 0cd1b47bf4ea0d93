"""
A custom fusion backbone
========================

Every interaction expert is a fusion network mapping the tokens of all
modalities to logits. Besides the built-in backbones (``fusion="mlp"``,
``"transformer"``, ...), ``fusion`` accepts a *factory*: a function that
returns a plain :class:`torch.nn.Module` for **one** expert. The estimator
calls it once per expert (independent initialisations), stacks the
experts' weights and runs them as one batched computation with
:func:`torch.vmap`, so a custom backbone costs no Python loop over experts.

The contract:

* the factory is called with the keywords ``n_modalities``, ``n_tokens``
  (per modality), ``hidden_dim`` and ``n_outputs``, plus any of ``n_layers``,
  ``n_heads``, ``dropout`` and ``rank`` that its signature names (taken
  from the estimator's parameters of those names; a ``**kwargs`` catch-all
  is given ``fusion_kwargs`` only), plus ``fusion_kwargs``;
* the module maps tokens ``[B, T, H]`` (``T = n_modalities * n_tokens``,
  modality after modality) to logits ``[B, C]``, or to a pair
  ``(logits [B, C], latent [B, D])`` for ``loss_on="latent"``;
* ``forward`` uses tensor operations only: no ``.item()``, no Python
  ``if`` on tensor values, no in-place writes into fresh tensors
  (:func:`torch.vmap` cannot batch those; the estimator says so clearly
  when it meets one).
"""

# %%
# An attention-pooling expert
# ---------------------------
# Each token gets a learned score; the tokens are averaged with the softmax
# of their scores, and a small MLP maps the pooled vector to logits. The
# factory also accepts ``dropout`` (so the estimator's ``dropout`` parameter
# reaches it) and a ``width`` that we pass through ``fusion_kwargs``.
import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.model_selection import train_test_split
from torch import nn

from sk_i2moe import I2MoEClassifier
from sk_i2moe.datasets import make_interaction_classification


class AttentionPooling(nn.Module):
    """Softmax-weighted mean of the tokens, then an MLP head."""

    def __init__(self, hidden_dim, n_outputs, dropout, width):
        super().__init__()
        self.score = nn.Linear(hidden_dim, 1)
        self.head = nn.Sequential(
            nn.LayerNorm(hidden_dim),
            nn.Linear(hidden_dim, width),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(width, n_outputs),
        )

    def forward(self, tokens):
        attention = torch.softmax(self.score(tokens), dim=1)  # [B, T, 1]
        pooled = (attention * tokens).sum(dim=1)  # [B, H]
        return self.head(pooled), pooled  # logits [B, C] and a latent [B, H]


def attention_pooling(n_modalities, n_tokens, hidden_dim, n_outputs, dropout=0.1, width=32):
    """Factory of one expert: called once per expert by the estimator."""
    return AttentionPooling(hidden_dim, n_outputs, dropout, width)


# %%
# Fit it like any other backbone
# ------------------------------
# Data with a known mix of interactions, and the custom backbone next to the
# default ``"mlp"`` backbone with the same settings.
X, y, interaction = make_interaction_classification(
    {"uniqueness": 0.4, "synergy": 0.2, "redundancy": 0.4}, n_samples=600, random_state=0
)
train, test = train_test_split(np.arange(len(y)), test_size=0.3, stratify=y, random_state=0)
X_train = {name: block[train] for name, block in X.items()}
X_test = {name: block[test] for name, block in X.items()}

settings = dict(hidden_dim=32, n_tokens=2, max_epochs=25, random_state=0)
custom = I2MoEClassifier(fusion=attention_pooling, fusion_kwargs={"width": 32}, **settings)
custom.fit(X_train, y[train])
default = I2MoEClassifier(fusion="mlp", **settings).fit(X_train, y[train])
print(f"attention pooling: held-out accuracy {custom.score(X_test, y[test]):.3f}")
print(f"built-in mlp:      held-out accuracy {default.score(X_test, y[test]):.3f}")

# %%
# Everything downstream works unchanged: expert names, interaction weights,
# explanations.
for name, weight in zip(custom.expert_names_, custom.interaction_weights_):
    print(f"{name:<16} {weight:.3f}")

# %%
# Looking inside the experts
# --------------------------
# The fitted torch model is ``net_.module_``: by default a
# :class:`~sk_i2moe.nn.MixtureEnsemble` of several mixtures (``n_members="auto"``:
# eight here, on 420 training rows; ``n_members_`` says how many),
# each a :class:`~sk_i2moe.nn.StructuredInteractionMoE`; we look inside the
# first member. Its ``fusion`` wraps the stacked
# experts in a :class:`~sk_i2moe.nn.VmappedFusion`, whose
# :meth:`~sk_i2moe.nn.VmappedFusion.expert_module` gives back one expert as
# an ordinary instance of our class. Here we read the attention that the
# synergy expert pays to the modalities' tokens, averaged over the test
# samples. Only its pass on the whole input sees every modality: in this
# (structured) mixture a uniqueness expert runs on its own modality's tokens
# alone (the others set to 0, absent) and the redundancy expert on each
# modality alone, so their attention over the whole input is never used.
model = custom.net_.module_.eval().members[0]
synergy = custom.expert_names_.index("synergy")
with torch.no_grad():
    tokens = model.embed([torch.as_tensor(X_test[m], dtype=torch.float32) for m in X_test])
    scores = model.fusion.expert_module(synergy).score(tokens)  # [B, T, 1]
    attention = torch.softmax(scores, dim=1)[..., 0].mean(0).numpy()  # [T]
n_modalities = len(custom.modalities_)
per_modality = attention.reshape(n_modalities, -1).sum(-1)  # [M]

fig, ax = plt.subplots(figsize=(5, 3))
ax.bar(list(custom.modalities_), per_modality, color="tab:blue")
for m, value in enumerate(per_modality):
    ax.text(m, value, f"{value:.2f}", ha="center", va="bottom", fontsize=9)
ax.set_ylim(0, 1)
ax.set_xlabel("modality")
ax.set_ylabel("mean attention")
ax.set_title("Attention of the synergy expert to each modality")
fig.tight_layout()
plt.show()

# %%
# To pickle an estimator with a custom backbone (``joblib.dump``, or
# parallel search backends that send estimators to other processes), define
# the factory and its module class in an importable module rather than in a
# script or notebook.
