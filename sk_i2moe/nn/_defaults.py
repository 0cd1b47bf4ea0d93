"""The one definition of every default hyperparameter.

The estimators' constructors, the torch modules, the backbones and the
training objectives all take their defaults from :data:`DEFAULTS`, keyed by
the estimators' parameter names, so that the layers cannot drift apart
(``tests/test_defaults.py`` checks every signature against it). The values
are the estimators' documented defaults; the hyperparameter guide explains
how they were chosen.
"""

from __future__ import annotations

from types import MappingProxyType

DEFAULTS = MappingProxyType(
    {
        # model
        "fusion": "mlp",
        "encoder": "patch",
        "hidden_dim": 64,
        "n_tokens": 4,
        "n_layers": 2,
        "n_heads": 4,
        "dropout": 0.1,
        "rank": 4,
        "experts": "all",
        "redundancy": "weighted_mean",
        "reweighting": "mlp",
        "reweight_hidden": 128,
        "reweight_steps": 0,
        "weight_shrinkage": 0.15,
        "temperature": 1.0,
        "perturbation": "noise",
        "noise_scale": "unit",
        "n_perturbed": None,
        "loss_on": "logits",
        "interaction_constraint": "structure",
        "n_members": "auto",
        # objective
        "interaction_loss_weight": 0.5,
        "gate_loss_weight": 0.01,
        "expert_loss_weight": 1.0,
        "missing_modality_loss_weight": 1.0,
        # training
        "max_epochs": 30,
        "batch_size": "auto",
        "lr": 5e-3,
        "weight_decay": 1e-2,
        "early_stopping": "auto",
        "validation_fraction": 0.2,
        "n_iter_no_change": 10,
        "tol": 1e-4,
        "standardize": True,
        "allow_missing_modalities": True,
        "modality_dropout": 0.0,
        "absence_offset": True,
        "device": "auto",
        "precision": "float32",
    }
)
