"""I2MoERegressor: the scikit-learn regressor."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import RegressorMixin, _fit_context
from sklearn.utils._param_validation import StrOptions

from ._base import I2MoEBase
from ._docstrings import fill_doc
from ._modalities import regression_targets, target_names, training_scale
from .nn import DEFAULTS

_LOSSES = {"smooth_l1": torch.nn.SmoothL1Loss, "mse": torch.nn.MSELoss}


def _one_value(table: np.ndarray) -> np.ndarray:
    """Which columns of ``(n, k)`` targets hold one value in every row (no spread).

    Exact equality: values an ulp apart are two values (a target of 2**40
    plus multiples of 2**-12 carries signal at that scale).
    """
    return (table == table[0]).all(axis=0)


@fill_doc
class I2MoERegressor(RegressorMixin, I2MoEBase):
    """Interpretable multimodal interaction-aware mixture of experts (I2MoE) regressor.

    The regression twin of :class:`I2MoEClassifier`: ``M + 2`` interaction
    experts fuse the modalities and per-sample weights mix their outputs.
    Targets are standardised internally (mean 0, variance 1 per output) and
    predictions mapped back; an output of one value in every row of the
    first fit is predicted as that value (a ``warm_start`` fit whose targets
    for it are no longer that value trains it from then on, in the target's
    own units). With the paper's mixture
    (``interaction_constraint="loss"``; the default structured mixture builds
    the kinds into the experts instead, as in :class:`I2MoEClassifier`), the
    interaction losses use Euclidean distances between outputs, each term
    bounded below: uniqueness is a triplet hinge,
    synergy ``max(0, margin - distance)`` pushes outputs apart when a modality
    is removed, and redundancy (a squared distance) pulls them together. The
    paper's public code has the synergy term pulling outputs together; see the
    documentation's list of differences.

    Parameters
    ----------
    {shared_parameters}
    loss : {"smooth_l1", "mse"}, default="smooth_l1"
        Task loss on the standardised targets.
    {shared_training_parameters}

    Attributes
    ----------
    target_names_ : ndarray of shape (n_outputs,) or None
        For ``y`` given as a DataFrame whose column labels are distinct
        strings, those labels: the outputs' names in explanations, plots and
        ONNX exports (``"y"``, or ``"y0"``, ``"y1"``, ..., otherwise). None
        otherwise.
    {shared_attributes}

    See Also
    --------
    I2MoEClassifier : The classification twin.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sk_i2moe import I2MoERegressor
    >>> data = load_diabetes()
    >>> X = {"demographics": data.data[:, :4], "serum": data.data[:, 4:]}
    >>> reg = I2MoERegressor(max_epochs=5, random_state=0).fit(X, data.target)
    >>> reg.predict(X).shape
    (442,)
    >>> reg.expert_names_
    ['uniqueness[demographics]', 'uniqueness[serum]', 'synergy', 'redundancy']
    """

    _interaction_distance = "euclidean"
    _parameter_constraints: dict = {
        **I2MoEBase._parameter_constraints,
        "loss": [StrOptions(set(_LOSSES))],
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
        loss: str = "smooth_l1",
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
        self.loss = loss
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
        tags.target_tags.multi_output = True
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(
        self, X: object, y: object, sample_weight: object = None, groups: object = None
    ) -> I2MoERegressor:
        """Fit the mixture of interaction experts.

        Parameters
        ----------
        X : mapping of str to array-like, DataFrame or array-like
            ``{modality: (n_samples, n_features_m)}``, or a 2-D table split by
            ``modalities`` (see :class:`I2MoEClassifier`).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Real-valued targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample loss weights. A row whose weight is 0 is left out of
            the fit, as if it were not given: its inputs are checked like
            every row's, then the fit is the one without the row (its target
            scaling, split, statistics, batches and weights alike). The
            target's mean and standard deviation, on which the loss is
            computed, are weighted too, so a weight of 2 standardises as the
            row given twice; the input standardisation (``standardize``)
            counts each row of positive weight it is computed on once (the
            rows a fit trains on), as
            :class:`~sklearn.preprocessing.StandardScaler` without weights.
            Paired with the rows by position: a pandas Series whose index
            holds ``X``'s row labels in another order is refused, as such a
            ``y`` is.
        groups : array-like of shape (n_samples,), default=None
            {fit_groups}

        Returns
        -------
        self : I2MoERegressor
            The fitted estimator.

        Warns
        -----
        UserWarning
            Where few training rows (and fewer than half of them) have a
            modality: its experts learn from those rows alone, too few to
            check them (:ref:`missing-modalities-few-rows` says how few).

        Examples
        --------
        >>> from sklearn.datasets import load_diabetes
        >>> from sk_i2moe import I2MoERegressor
        >>> data = load_diabetes()
        >>> X = {"demographics": data.data[:, :4], "serum": data.data[:, 4:]}
        >>> reg = I2MoERegressor(max_epochs=2, random_state=0).fit(X, data.target)
        >>> reg.n_features_in_
        10
        """
        return self._fit(X, y, sample_weight, groups)

    def _prepare_target(self, y: object, fit: bool, sample_weight: np.ndarray) -> np.ndarray:
        arr = regression_targets(y)
        if arr.ndim not in (1, 2):
            raise ValueError(
                f"y must be 1-D (n_samples,) or 2-D (n_samples, n_outputs); got shape {arr.shape}."
            )
        table = arr.reshape(len(arr), -1)
        if table.shape[1] == 0:
            raise ValueError(f"y has shape {arr.shape}: no output to predict.")
        if fit:
            self.target_names_ = target_names(y)
            self._y_ndim = arr.ndim
            # mean and standard deviation of y / max|y|, scaled back: no overflow of the
            # squares for targets near 1e200; weighted as the loss weighs the rows, so that
            # a weight of 2 standardises as a repeated row does
            peak = np.abs(table).max(0)
            peak[peak == 0] = 1.0
            unit = table / peak
            if (sample_weight == sample_weight[0]).all():
                mean, std = unit.mean(0), unit.std(0)
            else:
                mean = np.average(unit, axis=0, weights=sample_weight)
                std = np.sqrt(np.average((unit - mean) ** 2, axis=0, weights=sample_weight))
            # tested after scaling back: a product that underflows to 0 is no spread; a
            # column of one value has none whatever the weights (a weighted mean can miss it
            # by an ulp, which made a spread of 1e-16 of it the scale)
            constant = _one_value(table)
            std = np.where(constant, 0.0, std * peak)
            mean = np.where(constant, table[0] / peak, mean)
            self._y_loc = mean * peak
            # a column of one value gets scale 0: predicted as that value exactly (with scale
            # 1 the network's output for it came back as noise in its units); it is trained,
            # and the report measures it, in units of 1 (training_scale)
            self._y_scale = np.where(constant, 0.0, np.where(std > 0, std, 1.0))
        elif arr.ndim != self._y_ndim or table.shape[1] != len(self._y_loc):
            fitted = "a 1-D y" if self._y_ndim == 1 else f"a 2-D y of {len(self._y_loc)} column(s)"
            raise ValueError(
                f"y has shape {arr.shape}, but the model was fitted with {fitted}; pass y in "
                "the same form."
            )
        scale = self._y_scale
        if not fit:  # a continued fit: an output constant so far keeps its scale of 0 only
            # where its targets are still that one value; elsewhere it is learnt, in the
            # units it trained in
            same = _one_value(table) & (table[0] == self._y_loc)
            scale = np.where((scale == 0) & ~same, 1.0, scale)
        with np.errstate(over="ignore"):
            standardized = (table - self._y_loc) / training_scale(scale)
        if not np.isfinite(standardized.astype(np.float32)).all():
            raise ValueError(
                "y spans a range too wide to standardise (its values reach "
                f"{np.abs(table).max():.3g}); rescale it, e.g. predict y / 1e100 or log(y)."
            )
        self._y_scale = scale  # once the targets are accepted
        return standardized.astype(np.float32)

    def _criterion(self) -> type[torch.nn.Module]:
        return _LOSSES[self.loss]

    def _n_outputs(self) -> int:
        return len(self._y_loc)

    def _output_names(self) -> list[str]:
        names = getattr(self, "target_names_", None)  # None in files of earlier versions
        if names is not None:
            return [str(name) for name in names]
        n = len(self._y_loc)
        return ["y"] if n == 1 else [f"y{i}" for i in range(n)]

    def _to_output_space(self, values: np.ndarray) -> np.ndarray:
        """Map standardised outputs back to target units (contributions stay additive).

        An output constant in training (scale 0) maps to that constant.
        """
        return values.astype(np.float64) * self._y_scale + self._y_loc

    def predict(self, X: object) -> np.ndarray:
        """Predicted targets.

        Parameters
        ----------
        X : mapping, DataFrame or array-like
            Input in the same form as in :meth:`fit`.

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Same dimensionality as the ``y`` given to :meth:`fit`.

        Raises
        ------
        ValueError
            As :meth:`explain` (refused input, non-finite outputs).

        Examples
        --------
        >>> from sklearn.datasets import load_diabetes
        >>> from sk_i2moe import I2MoERegressor
        >>> data = load_diabetes()
        >>> X = {"demographics": data.data[:, :4], "serum": data.data[:, 4:]}
        >>> reg = I2MoERegressor(max_epochs=2, random_state=0).fit(X, data.target)
        >>> reg.predict(X).shape
        (442,)
        """
        return self._predict_outputs(self._to_output_space(self._forward(X)["logits"]))

    def _predict_outputs(self, outputs: np.ndarray) -> np.ndarray:
        """The decision rule: predictions from outputs in target units ``(n, C)``."""
        outputs = outputs.astype(np.float64)
        return outputs.ravel() if self._y_ndim == 1 else outputs

    def score(self, X: object, y: object, sample_weight: object = None) -> float:
        """Coefficient of determination (R²) of :meth:`predict` on ``X`` against ``y``.

        scikit-learn's :meth:`~sklearn.base.RegressorMixin.score`, after ``y``
        is checked for a signalling NaN Decimal, for a pandas ``y`` (or ``sample_weight``)
        whose row labels are ``X``'s in another order, for a DataFrame ``y`` that puts
        a fitted output name (``target_names_``) at another position, and for
        a ``y`` of another number of outputs than fitted or with missing
        values, each of which it refuses, naming it.

        Parameters
        ----------
        X : mapping, DataFrame or array-like
            Input in the same form as in :meth:`fit`.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            True targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights, paired with the rows by position (a pandas
            Series whose index holds ``X``'s row labels in another order is
            refused).

        Returns
        -------
        float
            R² (uniform average over outputs).
        """
        self._check_score_target(X, y, sample_weight)
        return super().score(X, y, sample_weight=sample_weight)
