"""I2MoEClassifier: the scikit-learn classifier."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import ClassifierMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d

from ._base import I2MoEBase


class I2MoEClassifier(ClassifierMixin, I2MoEBase):
    """Interpretable multimodal interaction-aware mixture of experts (I2MoE) classifier.

    Fuses several modalities (groups of features) with ``M + 2`` interaction
    experts: one *uniqueness* expert per modality, a *synergy* and a
    *redundancy* expert. Each expert is a full fusion network; during training
    each is also run with every modality replaced by a reference, and
    interaction losses push it to rely on its kind of cross-modal interaction.
    A reweighting network gives every sample a weight per expert; the
    prediction is the weighted sum of the experts' logits, so the weights say
    which interaction each prediction leaned on.

    Parameters
    ----------
    modalities : dict of str to columns, default=None
        For a DataFrame or 2-D array ``X``: which columns form each modality
        (column names, integer positions, a slice or a boolean mask). Ignored
        for mapping input. With None, a DataFrame whose columns carry
        ``modality__feature`` prefixes is split by prefix, and any other 2-D
        input is one modality named ``"x"``.
    fusion : {"mlp", "transformer"}, default="mlp"
        Fusion backbone of every expert: ``"mlp"`` concatenates the mean-pooled
        modality embeddings into an MLP (fast, strong on tabular data);
        ``"transformer"`` is the paper's backbone, self-attention over all
        modalities' tokens (about 10-30x the training cost on a CPU).
    encoder : {"patch", "mlp"}, default="patch"
        Modality encoder: ``n_tokens`` linear patch embeddings, or an MLP
        giving one token.
    hidden_dim : int, default=64
        Token width.
    n_tokens : int, default=4
        Tokens per modality with the patch encoder. Larger than a modality's
        number of features is allowed: the extra tokens embed zero padding.
    n_layers : int, default=2
        Layers of the fusion backbone.
    n_heads : int, default=4
        Attention heads (transformer); must divide ``hidden_dim``.
    dropout : float, default=0.1
        Dropout in the experts (one mask per sample, shared by its variants).
    interaction_loss_weight : float, default=0.1
        Weight of the interaction loss. ``0`` trains a plain mixture of
        experts without the perturbed passes.
    temperature : float, default=1.0
        Softmax temperature of the interaction weights (lower is sharper).
    perturbation : {"noise", "mean", "zero"}, default="noise"
        What replaces a modality's tokens in the perturbed passes.
    reweight_hidden : int, default=128
        Hidden width of the reweighting MLP.
    max_epochs : int, default=50
        Training epochs.
    batch_size : int, default=64
        Mini-batch size for training and prediction.
    lr : float, default=1e-3
        Learning rate of AdamW.
    weight_decay : float, default=1e-2
        Decoupled weight decay of AdamW.
    class_weight : dict, "balanced" or None, default=None
        Class weights multiplying each sample's loss, as in scikit-learn.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data (stratified) and
        stop when the validation loss has not improved by ``tol`` for
        ``n_iter_no_change`` epochs; the best epoch's weights are restored.
    validation_fraction : float, default=0.1
        Share of the data held out when ``early_stopping=True``.
    n_iter_no_change : int, default=10
        Patience of early stopping, in epochs.
    tol : float, default=1e-4
        Minimum improvement of the validation loss.
    warm_start : bool, default=False
        When True, a further ``fit`` continues training the fitted network for
        ``max_epochs`` more epochs instead of starting afresh.
    standardize : bool, default=True
        Standardise every feature with the training mean and standard deviation
        inside the network.
    device : str or torch.device, default="auto"
        ``"auto"`` uses CUDA when available, else the CPU; ``"cpu"``/``"cuda"``
        force one.
    n_threads : int, default=None
        Torch CPU threads used by ``fit`` and prediction (restored afterwards);
        None keeps torch's setting. Set it to ``cores // n_jobs`` when running
        fits in parallel.
    callbacks : list of skorch callbacks, default=None
        Extra callbacks passed to the skorch net.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling, dropout, replacement noise and
        the validation split.
    verbose : int, default=0
        0 prints nothing; 1 or more prints skorch's epoch table and a progress bar.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    modalities_ : dict of str to int
        Modality names, in order, with their number of features.
    n_features_in_ : int
        Number of input features (all modalities).
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when ``X`` was a DataFrame.
    expert_names_ : list of str
        ``["uniqueness[<modality>]", ..., "synergy", "redundancy"]``.
    interaction_weights_ : ndarray of shape (n_experts,)
        Mean interaction weight of each expert over the training data (sums to 1).
    net_ : I2MoENet
        The fitted skorch net; ``net_.module_`` is the torch model.
    history_ : skorch.History
        Training record (``train_loss``, ``task_loss``, ``interaction_loss``,
        ``valid_loss`` with early stopping).
    n_iter_ : int
        Number of epochs run.

    See Also
    --------
    sk_i2moe.nn.InteractionMoE : The underlying torch module.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sk_i2moe import I2MoEClassifier
    >>> data = load_breast_cancer()
    >>> X = {"mean": data.data[:, :10], "error": data.data[:, 10:20], "worst": data.data[:, 20:]}
    >>> clf = I2MoEClassifier(max_epochs=3, random_state=0).fit(X, data.target)
    >>> clf.predict_proba(X).shape
    (569, 2)
    >>> clf.expert_names_
    ['uniqueness[mean]', 'uniqueness[error]', 'uniqueness[worst]', 'synergy', 'redundancy']
    >>> round(float(clf.interaction_weights_.sum()), 4)
    1.0
    """

    _parameter_constraints: dict = {
        **I2MoEBase._parameter_constraints,
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }

    def __init__(
        self,
        *,
        modalities: dict | None = None,
        fusion: str = "mlp",
        encoder: str = "patch",
        hidden_dim: int = 64,
        n_tokens: int = 4,
        n_layers: int = 2,
        n_heads: int = 4,
        dropout: float = 0.1,
        interaction_loss_weight: float = 0.1,
        temperature: float = 1.0,
        perturbation: str = "noise",
        reweight_hidden: int = 128,
        max_epochs: int = 50,
        batch_size: int = 64,
        lr: float = 1e-3,
        weight_decay: float = 1e-2,
        class_weight: dict | str | None = None,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 10,
        tol: float = 1e-4,
        warm_start: bool = False,
        standardize: bool = True,
        device: str | torch.device = "auto",
        n_threads: int | None = None,
        callbacks: list | None = None,
        random_state: int | np.random.RandomState | None = None,
        verbose: int = 0,
    ) -> None:
        self.modalities = modalities
        self.fusion = fusion
        self.encoder = encoder
        self.hidden_dim = hidden_dim
        self.n_tokens = n_tokens
        self.n_layers = n_layers
        self.n_heads = n_heads
        self.dropout = dropout
        self.interaction_loss_weight = interaction_loss_weight
        self.temperature = temperature
        self.perturbation = perturbation
        self.reweight_hidden = reweight_hidden
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.class_weight = class_weight
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.warm_start = warm_start
        self.standardize = standardize
        self.device = device
        self.n_threads = n_threads
        self.callbacks = callbacks
        self.random_state = random_state
        self.verbose = verbose

    def fit(self, X: object, y: object, sample_weight: object = None) -> I2MoEClassifier:
        """Fit the mixture of interaction experts.

        Parameters
        ----------
        X : mapping of str to array-like, DataFrame or array-like
            ``{modality: (n_samples, n_features_m)}``, or a 2-D table split by
            ``modalities`` (see the class docstring).
        y : array-like of shape (n_samples,)
            Class labels (any hashable type).
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample loss weights (multiplied by ``class_weight``).

        Returns
        -------
        self : I2MoEClassifier
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight)

    def _prepare_target(self, y: object, fit: bool) -> np.ndarray:
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if fit:
            encoder = LabelEncoder().fit(y)
            if len(encoder.classes_) < 2:
                raise ValueError(
                    f"y has only one class ({encoder.classes_[0]!r}); a classifier needs at "
                    "least 2 classes."
                )
            self.classes_ = encoder.classes_
        unseen = np.setdiff1d(y, self.classes_)
        if unseen.size:
            raise ValueError(
                f"y contains labels {unseen[:5].tolist()} not seen in the first fit "
                f"(classes_={self.classes_.tolist()}); warm_start cannot add classes."
            )
        return np.searchsorted(self.classes_, y).astype(np.int64)

    def _loss_weights(self, y: object, sample_weight: np.ndarray) -> np.ndarray:
        if self.class_weight is None:
            return sample_weight
        y = column_or_1d(y)
        return (sample_weight * compute_sample_weight(self.class_weight, y)).astype(np.float32)

    def _criterion(self) -> type[torch.nn.Module]:
        return torch.nn.CrossEntropyLoss

    def _stratify(self, y_encoded: np.ndarray) -> np.ndarray | None:
        return y_encoded

    def _n_outputs(self) -> int:
        return len(self.classes_)

    def _output_names(self) -> list[str]:
        return [str(c) for c in self.classes_]

    def predict_proba(self, X: object) -> np.ndarray:
        """Class probabilities.

        Parameters
        ----------
        X : mapping, DataFrame or array-like
            Input in the same form as in :meth:`fit`.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Softmax of the mixture logits; columns follow ``classes_``.
        """
        logits = torch.from_numpy(self._forward(X)["logits"])
        return torch.softmax(logits.double(), dim=1).numpy()

    def predict(self, X: object) -> np.ndarray:
        """Predicted class labels.

        Parameters
        ----------
        X : mapping, DataFrame or array-like
            Input in the same form as in :meth:`fit`.

        Returns
        -------
        ndarray of shape (n_samples,)
            The most probable class for every sample.
        """
        logits = self._forward(X)["logits"]
        return self.classes_[logits.argmax(axis=1)]
