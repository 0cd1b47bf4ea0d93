"""I2MoEClassifier: the scikit-learn classifier."""

from __future__ import annotations

from numbers import Real

import numpy as np
import torch
from scipy import sparse
from sklearn.base import ClassifierMixin, _fit_context, clone
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.preprocessing import LabelEncoder
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import column_or_1d

from ._base import I2MoEBase
from ._data import ModalityDataset
from ._docstrings import fill_doc
from ._fit_rules import CALIBRATION_FOLDS
from ._groups import group_folds
from ._modalities import (
    absent_modalities,
    fitting_a_part,
    fitting_parts,
    float32_ratios,
    refuse_missing_labels,
    target_names,
)
from ._net import I2MoENet, I2MoENetClassifier, class_probabilities, label_probabilities
from ._warn import warn
from .nn import DEFAULTS, fit_temperature
from .nn.calibration import calibratable


@fill_doc
class I2MoEClassifier(ClassifierMixin, I2MoEBase):
    """Interpretable multimodal interaction-aware mixture of experts (I2MoE) classifier.

    Fuses several modalities (groups of features) with ``M + 2`` interaction
    experts: one *uniqueness* expert per modality, a *synergy* and a
    *redundancy* expert. Each expert is a full fusion network. By default
    (``interaction_constraint="structure"``) each kind is built into its
    expert: a uniqueness expert sees its own modality only, the redundancy
    expert pools what single modalities predict, and the synergy expert keeps
    only what needs the modalities jointly. With ``"loss"`` (the paper's
    mixture) every expert sees every modality, is also run with each modality
    replaced by a reference, and interaction losses push it to rely on its
    kind of cross-modal interaction. A reweighting network gives every sample
    a weight per expert; the prediction is the weighted sum of the experts'
    logits, so the weights say which interaction each prediction leaned on.

    Binary, multi-class and multi-label targets are supported: a 2-D 0/1
    indicator ``y`` trains one sigmoid output per label with binary
    cross-entropy, like :class:`~sklearn.neural_network.MLPClassifier`.

    Parameters
    ----------
    {shared_parameters}
    class_weight : dict, "balanced" or None, default=None
        Class weights multiplying each sample's loss, as in scikit-learn
        (single-label targets only; use ``sample_weight`` for multi-label).
        A dict maps labels to finite weights >= 0 (a class left out has
        weight 1); ``"balanced"`` weighs each class inversely to its total
        ``sample_weight`` (its count when none is given). As in
        scikit-learn, a dict may name labels that the training rows lack (a
        cross-validation fold without a rare class, say) when it names every
        class they have; a label that matches no class while some class is
        left out of the dict is refused as a likely misspelling.
    {shared_training_parameters}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels (for multi-label ``y``, the label indices ``0..L-1``).
    class_weight_ : ndarray of shape (n_classes,) or None
        Each class's weight in the training loss (``class_weight`` resolved;
        None without class weights). A network so trained predicts
        probabilities tilted towards the heavier classes;
        :func:`~sk_i2moe.inspection.interaction_report` undoes the tilt before
        scoring predictions against the held-out class rates.
    target_names_ : ndarray of shape (n_labels,) or None
        For multi-label ``y`` given as a DataFrame whose column labels are
        distinct strings, those labels: the outputs' names in explanations,
        plots and ONNX exports (``classes_`` stays the label indices). None
        otherwise.
    {shared_attributes}

    See Also
    --------
    I2MoERegressor : The regression twin.
    sk_i2moe.nn.InteractionMoE : The underlying torch module.

    Examples
    --------
    >>> from sk_i2moe import I2MoEClassifier
    >>> from sk_i2moe.datasets import load_breast_cancer_views
    >>> X, y = load_breast_cancer_views()
    >>> clf = I2MoEClassifier(max_epochs=3, random_state=0).fit(X, y)
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
        fusion: str | object = DEFAULTS["fusion"],
        encoder: str = DEFAULTS["encoder"],
        hidden_dim: int = DEFAULTS["hidden_dim"],
        n_tokens: int = DEFAULTS["n_tokens"],
        n_layers: int = DEFAULTS["n_layers"],
        n_heads: int = DEFAULTS["n_heads"],
        dropout: float = DEFAULTS["dropout"],
        rank: int = DEFAULTS["rank"],
        fusion_kwargs: dict | None = None,
        experts: str = DEFAULTS["experts"],
        redundancy: str = DEFAULTS["redundancy"],
        reweighting: str = DEFAULTS["reweighting"],
        interaction_loss_weight: float = DEFAULTS["interaction_loss_weight"],
        gate_loss_weight: float = DEFAULTS["gate_loss_weight"],
        expert_loss_weight: float = DEFAULTS["expert_loss_weight"],
        missing_modality_loss_weight: float = DEFAULTS["missing_modality_loss_weight"],
        temperature: float = DEFAULTS["temperature"],
        perturbation: str = DEFAULTS["perturbation"],
        noise_scale: str = DEFAULTS["noise_scale"],
        n_perturbed: int | None = DEFAULTS["n_perturbed"],
        loss_on: str = DEFAULTS["loss_on"],
        interaction_constraint: str = DEFAULTS["interaction_constraint"],
        n_members: int | str = DEFAULTS["n_members"],
        reweight_hidden: int = DEFAULTS["reweight_hidden"],
        reweight_steps: int = DEFAULTS["reweight_steps"],
        weight_shrinkage: float = DEFAULTS["weight_shrinkage"],
        max_epochs: int = DEFAULTS["max_epochs"],
        batch_size: int | str = DEFAULTS["batch_size"],
        lr: float = DEFAULTS["lr"],
        weight_decay: float = DEFAULTS["weight_decay"],
        class_weight: dict | str | None = None,
        early_stopping: bool | str = DEFAULTS["early_stopping"],
        validation_fraction: float = DEFAULTS["validation_fraction"],
        n_iter_no_change: int = DEFAULTS["n_iter_no_change"],
        tol: float = DEFAULTS["tol"],
        warm_start: bool = False,
        standardize: bool = DEFAULTS["standardize"],
        allow_missing_modalities: bool = DEFAULTS["allow_missing_modalities"],
        modality_dropout: float = DEFAULTS["modality_dropout"],
        absence_offset: bool = DEFAULTS["absence_offset"],
        device: str | torch.device = DEFAULTS["device"],
        precision: str = DEFAULTS["precision"],
        compile: bool = False,
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
        self.rank = rank
        self.fusion_kwargs = fusion_kwargs
        self.experts = experts
        self.redundancy = redundancy
        self.reweighting = reweighting
        self.interaction_loss_weight = interaction_loss_weight
        self.gate_loss_weight = gate_loss_weight
        self.expert_loss_weight = expert_loss_weight
        self.missing_modality_loss_weight = missing_modality_loss_weight
        self.temperature = temperature
        self.perturbation = perturbation
        self.noise_scale = noise_scale
        self.n_perturbed = n_perturbed
        self.loss_on = loss_on
        self.interaction_constraint = interaction_constraint
        self.n_members = n_members
        self.reweight_hidden = reweight_hidden
        self.reweight_steps = reweight_steps
        self.weight_shrinkage = weight_shrinkage
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
        self.allow_missing_modalities = allow_missing_modalities
        self.modality_dropout = modality_dropout
        self.absence_offset = absence_offset
        self.device = device
        self.precision = precision
        self.compile = compile
        self.n_threads = n_threads
        self.callbacks = callbacks
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = self.class_weight is None  # refused for multi-label
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(
        self, X: object, y: object, sample_weight: object = None, groups: object = None
    ) -> I2MoEClassifier:
        """Fit the mixture of interaction experts.

        Parameters
        ----------
        X : mapping of str to array-like, DataFrame or array-like
            ``{modality: (n_samples, n_features_m)}``, or a 2-D table split by
            ``modalities`` (see the class docstring).
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels (any hashable type), or a 0/1 indicator matrix for
            multi-label classification.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample loss weights (multiplied by ``class_weight``). A row
            whose weight is 0 is left out of the fit, as if it were not given:
            its inputs are checked like every row's, then the fit is the one
            without the row (its classes, split, statistics, batches and
            weights alike). Paired with the rows by position: a pandas
            Series whose index holds ``X``'s row labels in another order is
            refused, as such a ``y`` is.
        groups : array-like of shape (n_samples,), default=None
            {fit_groups}

        Returns
        -------
        self : I2MoEClassifier
            The fitted estimator.

        Warns
        -----
        UserWarning
            Where few training rows (and fewer than half of them) have a
            modality: its experts learn from those rows alone, too few to
            check them (:ref:`missing-modalities-few-rows` says how few).
            And where a column of a multi-label ``y`` takes one value in
            every training row: that label can only be learned as a constant.

        Examples
        --------
        >>> from sk_i2moe import I2MoEClassifier
        >>> from sk_i2moe.datasets import load_breast_cancer_views
        >>> X, y = load_breast_cancer_views()
        >>> clf = I2MoEClassifier(max_epochs=2, random_state=0).fit(X, y)
        >>> clf.modalities_
        {'mean': 10, 'error': 10, 'worst': 10}
        """
        return self._fit(X, y, sample_weight, groups)

    def _refuse_missing_targets(self, y: object, counted: np.ndarray) -> None:
        refuse_missing_labels(y, counted)

    def _prepare_target(self, y: object, fit: bool, sample_weight: np.ndarray) -> np.ndarray:
        kind = type_of_target(y, input_name="y")
        if kind == "multiclass-multioutput":
            raise ValueError(
                "y is 2-D with values other than 0 and 1 (multiclass-multioutput), which is not "
                "supported: give a 1-D y of class labels, or a 0/1 indicator matrix (one column "
                "per label) for multi-label classification."
            )
        multilabel = kind == "multilabel-indicator"
        if fit:
            self._multilabel = multilabel
            self.target_names_ = target_names(y) if multilabel else None
        elif multilabel != self._multilabel:
            raise ValueError(
                "warm_start cannot switch between multi-label and single-label targets."
            )
        if multilabel:
            y = y.toarray() if sparse.issparse(y) else np.asarray(y)
            values = np.unique(y)
            if not np.isin(values, (0, 1)).all():
                raise ValueError(
                    f"A 2-D y is a multi-label indicator matrix and must hold 0 and 1 only; it "
                    f"holds {values[:5].tolist()}. Recode it, e.g. (y > 0).astype(int)."
                )
            if fit:
                self.classes_ = np.arange(y.shape[1])
            elif y.shape[1] != len(self.classes_):
                raise ValueError(
                    f"y has {y.shape[1]} labels, but the model was fitted with "
                    f"{len(self.classes_)}."
                )
            if not fitting_a_part():  # the fit of the whole says it
                self._warn_constant_labels(y)
            return y.astype(np.float32)
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if fit:
            encoder = LabelEncoder().fit(y)
            if len(encoder.classes_) < 2:
                only = encoder.classes_[:1].tolist()[0]  # a Python value: 0, not np.int64(0)
                raise ValueError(
                    f"y has only one class ({only!r}); a classifier needs at least 2 classes."
                )
            self.classes_ = encoder.classes_
        unseen = np.setdiff1d(y, self.classes_)
        if unseen.size:
            raise ValueError(
                f"y contains labels {unseen[:5].tolist()} not seen in the first fit "
                f"(classes_={self.classes_.tolist()}); warm_start cannot add classes."
            )
        return np.searchsorted(self.classes_, y).astype(np.int64)

    def _warn_constant_labels(self, y: np.ndarray) -> None:
        """Warn of multi-label columns that the training rows hold at one value only.

        Such a label can only be learned as a constant (a probability near 0
        or 1 whatever the input), and the interaction report pools it with
        the others.
        """
        names = self.target_names_ if self.target_names_ is not None else range(y.shape[1])
        never = [name for name, column in zip(names, y.T) if not column.any()]
        always = [name for name, column in zip(names, y.T) if column.all()]
        if not never and not always:
            return
        parts = [
            f"{kind} {listed}"
            for kind, listed in (("never positive:", never), ("always positive:", always))
            if listed
        ]
        warn(
            f"Some labels take one value in every training row ({'; '.join(parts)}). The "
            "model can only learn them as constants (a probability near 0 or 1 whatever the "
            "input), and interaction_report pools them with the other labels. Check the label "
            "matrix, or leave such columns out of y.",
            UserWarning,
        )

    def _loss_weights(self, y_encoded: np.ndarray, sample_weight: np.ndarray) -> np.ndarray:
        """``sample_weight`` times each row's class weight (``class_weight``).

        ``"balanced"`` weighs classes inversely to their total sample weight
        (their counts without ``sample_weight``), as scikit-learn's
        ``compute_class_weight`` does, so rows of weight 0 change nothing.
        """
        if self.class_weight is None:
            self.class_weight_ = None
            return float32_ratios(sample_weight)
        if self._multilabel:
            raise ValueError(
                "class_weight is not supported for multi-label y; pass per-sample weights "
                "through fit(..., sample_weight=...) instead."
            )
        n_classes = len(self.classes_)
        if isinstance(self.class_weight, str):  # "balanced", the only string allowed
            totals = np.bincount(y_encoded, weights=sample_weight, minlength=n_classes)
            per_class = np.divide(
                totals.sum(), n_classes * totals, out=np.ones(n_classes), where=totals > 0
            )
        else:
            per_class = self._class_weight_vector()
        self.class_weight_ = per_class
        # the class weights' ratios (no overflow of the product near 1e308) times the
        # sample weights' exact ratios; float32 once, on the product
        ratios = per_class / per_class.max() if per_class.max() > 0 else per_class
        weights = sample_weight * ratios[y_encoded]
        if not (weights > 0).any():
            raise ValueError(
                f"class_weight={self.class_weight!r} with this sample_weight leaves every "
                "training row with weight 0; give some class a positive weight."
            )
        return float32_ratios(weights)  # class weights of 1e-50 or 1e39 survive float32

    def _class_weight_vector(self) -> np.ndarray:
        """The ``class_weight`` dict as one checked weight per class of ``classes_``."""
        labels = self.classes_.tolist()
        known = set(labels)
        unknown = [k for k in self.class_weight if k not in known]
        left_out = [label for label in labels if label not in self.class_weight]
        # as scikit-learn's compute_class_weight: labels the training rows lack are ignored
        # unless a class they have is left out (then the label is likely a misspelling of it)
        if unknown and left_out:

            def listed(values: list, most: int) -> str:
                more = f" and {len(values) - most} more" if len(values) > most else ""
                return f"{values[:most]}{more}"

            raise ValueError(
                f"class_weight names labels {listed(unknown, 5)} that are not classes of y "
                f"(classes: {listed(labels, 10)}) and leaves out the classes "
                f"{listed(left_out, 5)}. Fix the labels (a typo, or '1' for 1?), or name every "
                "class of y."
            )
        # every value is checked, also those of labels these rows lack: a bad weight fails in
        # every cross-validation fold, not only in those with its class
        for label, value in self.class_weight.items():
            if isinstance(value, bool) or not isinstance(value, Real) or not 0 <= value < np.inf:
                raise ValueError(
                    f"class_weight[{label!r}] is {value!r}; class weights must be finite "
                    "numbers >= 0 (a class left out of the dict has weight 1)."
                )
        return np.asarray([float(self.class_weight.get(label, 1.0)) for label in labels])

    def _criterion(self) -> type[torch.nn.Module]:
        return torch.nn.BCEWithLogitsLoss if self._multilabel else torch.nn.CrossEntropyLoss

    def _net_options(self) -> tuple[type[I2MoENet], dict]:
        nonlinearity = label_probabilities if self._multilabel else class_probabilities
        return I2MoENetClassifier, {
            "classes": np.arange(len(self.classes_)),
            "predict_nonlinearity": nonlinearity,
        }

    def _predict_outputs(self, outputs: np.ndarray) -> np.ndarray:
        """The decision rule: labels from logits ``(n, C)``."""
        if self._multilabel:
            return (outputs > 0).astype(np.int64)
        return self.classes_[outputs.argmax(axis=1)]

    def _cross_fitted_temperature(
        self,
        arrays: list[np.ndarray],
        y_encoded: np.ndarray,
        sample_weight: np.ndarray,
        weights: np.ndarray,
        seed: int,
        clusters: np.ndarray | None,
    ) -> float | None:
        """The output temperature (at least 1) that cross-fitted predictions ask for.

        For a fit that ``early_stopping="auto"`` trains on all the data: each
        of ``CALIBRATION_FOLDS`` folds (stratified by class; fewer folds where
        a class has fewer samples; with ``clusters``, a group number per row,
        each group in one fold: :func:`~sk_i2moe._groups.group_folds`) is
        predicted by this estimator fitted with
        ``early_stopping=False`` on the other folds, and
        :func:`~sk_i2moe.nn.fit_temperature` chooses the temperature from
        these predictions with the objective's weighted task loss. None for the
        paper's mixture, where a class has fewer than two samples, where the
        groups cannot be split so (fewer groups than folds, or a class missing
        from some fold's fit), and where a fold's other folds cannot be
        fitted: every row there lacks a modality (a rare one, all in the fold).
        ``arrays`` and the weights are the training rows (those of positive
        ``sample_weight``).
        """
        if not calibratable(self._model_kind()):
            return None
        n = len(y_encoded)
        if self._multilabel:
            labels, strata = y_encoded.astype(np.int64), None
            splitter = KFold(min(CALIBRATION_FOLDS, n), shuffle=True, random_state=seed)
        else:
            labels, strata = self.classes_[y_encoded], y_encoded
            smallest = int(np.bincount(y_encoded).min())
            if smallest < 2:
                return None
            splitter = StratifiedKFold(
                min(CALIBRATION_FOLDS, smallest), shuffle=True, random_state=seed
            )
        fold_estimator = clone(self).set_params(
            modalities=None, early_stopping=False, warm_start=False, verbose=0, random_state=seed
        )
        names = self._input_spec.names
        if clusters is None:
            folds = list(splitter.split(np.zeros(n), strata))
        else:
            folds = group_folds(strata, clusters, CALIBRATION_FOLDS, seed)
            if folds is None:
                return None
        present = ~absent_modalities(arrays)
        if not all(present[train].any(axis=0).all() for train, _ in folds):
            return None
        logits = np.zeros((n, len(self.classes_)), np.float32)
        for train, test in folds:
            with fitting_parts():
                fold = clone(fold_estimator).fit(
                    {name: a[train] for name, a in zip(names, arrays)},
                    labels[train],
                    sample_weight=sample_weight[train],
                )
            logits[test] = fold._forward_arrays([a[test] for a in arrays])["logits"]
        return _temperature(
            fold.net_.criterion_,
            torch.from_numpy(logits),
            torch.from_numpy(y_encoded),
            torch.from_numpy(np.asarray(weights, np.float32)),
        )

    def _held_out_temperature(self, valid: ModalityDataset, logits: torch.Tensor) -> float | None:
        """The output temperature (at least 1) that the held-out rows ask for.

        For a fit that ``early_stopping="auto"`` or ``"refit"`` refits on all
        the data: ``logits`` are the held-out rows' outputs of the fit that
        chose the number of epochs (a network that did not train on them),
        after as many epochs as the final fit trains, and
        :func:`~sk_i2moe.nn.fit_temperature` chooses the temperature from them
        with the objective's weighted task loss. None for the paper's mixture.
        """
        if not calibratable(self._module()):
            return None
        return self._loss_temperature(valid, logits)

    def _loss_temperature(self, valid: ModalityDataset, logits: torch.Tensor) -> float:
        """The temperature (at least 1) that gives held-out ``logits`` the least loss.

        Whether or not the model is calibrated: the rule that chooses the
        refit's epochs compares held-out losses with confidence taken out.
        """
        return _temperature(self.net_.criterion_, logits, valid.y, valid.sample_weight)

    def _stratify(self, y_encoded: np.ndarray) -> np.ndarray | None:
        return y_encoded if y_encoded.ndim == 1 else None  # multi-label: plain split

    def _n_outputs(self) -> int:
        return len(self.classes_)

    def _output_names(self) -> list[str]:
        names = getattr(self, "target_names_", None)  # None in files of earlier versions
        return [str(c) for c in (self.classes_ if names is None else names)]

    def predict_proba(self, X: object) -> np.ndarray:
        """Class probabilities.

        Parameters
        ----------
        X : mapping, DataFrame or array-like
            Input in the same form as in :meth:`fit`.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Softmax of the mixture logits, columns following ``classes_``; for
            multi-label targets, each label's sigmoid probability.

        Raises
        ------
        ValueError
            As :meth:`explain` (refused input, non-finite outputs).

        Examples
        --------
        >>> from sk_i2moe import I2MoEClassifier
        >>> from sk_i2moe.datasets import load_breast_cancer_views
        >>> X, y = load_breast_cancer_views()
        >>> clf = I2MoEClassifier(max_epochs=2, random_state=0).fit(X, y)
        >>> proba = clf.predict_proba(X)
        >>> proba.shape, bool(abs(proba.sum(1) - 1).max() < 1e-6)
        ((569, 2), True)
        """
        logits = self._logits64(X)
        if self._multilabel:
            return torch.sigmoid(logits).numpy()
        return torch.softmax(logits, dim=1).numpy()

    def predict_log_proba(self, X: object) -> np.ndarray:
        """Logarithm of the class probabilities.

        Computed from the mixture logits in float64 (``log_softmax``, or
        ``logsigmoid`` per label), not as the logarithm of
        :meth:`predict_proba`: a probability that rounds to 0 or 1 still has a
        finite, ordered logarithm.

        Parameters
        ----------
        X : mapping, DataFrame or array-like
            Input in the same form as in :meth:`fit`.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            ``log(predict_proba(X))`` up to rounding, columns following
            ``classes_``; for multi-label targets, each label's log-probability.

        Examples
        --------
        >>> import numpy as np
        >>> from sk_i2moe import I2MoEClassifier
        >>> from sk_i2moe.datasets import load_breast_cancer_views
        >>> X, y = load_breast_cancer_views()
        >>> clf = I2MoEClassifier(max_epochs=2, random_state=0).fit(X, y)
        >>> bool(np.allclose(np.exp(clf.predict_log_proba(X)), clf.predict_proba(X)))
        True
        """
        logits = self._logits64(X)
        if self._multilabel:
            return torch.nn.functional.logsigmoid(logits).numpy()
        return torch.log_softmax(logits, dim=1).numpy()

    def _logits64(self, X: object) -> torch.Tensor:
        """The mixture's logits on ``X`` in float64, for probabilities that keep their tails."""
        return torch.from_numpy(self._forward(X)["logits"]).double()

    def predict(self, X: object) -> np.ndarray:
        """Predicted class labels.

        Parameters
        ----------
        X : mapping, DataFrame or array-like
            Input in the same form as in :meth:`fit`.

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_labels)
            The most probable class for every sample; for multi-label targets
            the 0/1 indicator matrix of labels with probability above 0.5.

        Raises
        ------
        ValueError
            As :meth:`explain` (refused input, non-finite outputs).

        Examples
        --------
        >>> from sk_i2moe import I2MoEClassifier
        >>> from sk_i2moe.datasets import load_breast_cancer_views
        >>> X, y = load_breast_cancer_views()
        >>> clf = I2MoEClassifier(max_epochs=2, random_state=0).fit(X, y)
        >>> clf.predict(X).shape
        (569,)
        """
        return self._predict_outputs(self._forward(X)["logits"])

    def score(self, X: object, y: object, sample_weight: object = None) -> float:
        """Accuracy of :meth:`predict` on ``X`` against ``y``.

        scikit-learn's :meth:`~sklearn.base.ClassifierMixin.score` (subset
        accuracy for multi-label ``y``), after ``y`` is checked for a
        signalling NaN Decimal, for a pandas ``y`` (or ``sample_weight``)
        whose row labels are ``X``'s in another order, for a multi-label DataFrame ``y`` that puts
        a fitted label name (``target_names_``) at another position, for a
        multi-label ``y`` that is not a 0/1 matrix of the fitted labels, and
        for missing labels, each of which it refuses, naming it (a label the
        model was not fitted on counts as a miss, as in scikit-learn).

        Parameters
        ----------
        X : mapping, DataFrame or array-like
            Input in the same form as in :meth:`fit`.
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            True labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights, paired with the rows by position (a pandas
            Series whose index holds ``X``'s row labels in another order is
            refused).

        Returns
        -------
        float
            The (weighted) fraction of rows predicted right.
        """
        self._check_score_target(X, y, sample_weight)
        return super().score(X, y, sample_weight=sample_weight)


def _temperature(
    objective: torch.nn.Module, logits: torch.Tensor, y: torch.Tensor, weights: torch.Tensor
) -> float:
    """:func:`~sk_i2moe.nn.fit_temperature` with ``objective``'s weighted task loss.

    ``objective`` is the criterion the fits train on, the owner of that loss,
    evaluated in float32 as the fits train (the search scales the logits in
    float64; the loss has always been taken in float32, so the temperatures
    of fitted models do not move with the loss's precision).
    """
    return fit_temperature(
        logits, lambda scaled: objective.weighted_task_loss(scaled.float(), y, weights)
    )
