"""The parameter and attribute docs the two estimators share, and the decorator inserting them."""

from __future__ import annotations

from ._fit_rules import (
    AUTO_MEMBERS,
    AUTO_MEMBERS_SMALL,
    AUTO_MIN_VALIDATION,
    CALIBRATION_FOLDS,
    FLOOR_LOSS_Z,
    REFIT_MIN_EPOCHS,
    SMALL_FIT_ROWS,
)

SHARED_PARAMETERS = """\
    modalities : dict of str to columns, default=None
        For a DataFrame or 2-D array ``X``: which columns form each modality
        (column names, integer positions, a slice or a boolean mask). Must be
        None for mapping input, which names its modalities itself (a
        ``ValueError`` otherwise). With None, a DataFrame whose columns carry
        ``modality__feature`` prefixes is split by prefix, and any other 2-D
        input is one modality named ``"x"``.
    fusion : str or callable, default="mlp"
        Fusion backbone of every expert. ``"mlp"`` concatenates the mean-pooled
        modality embeddings into an MLP (fast, strong on tabular data);
        ``"transformer"`` is the paper's backbone, self-attention over all
        modalities' tokens (many times the training cost on a CPU, see the
        performance guide); ``"early"``,
        ``"late"``, ``"lrtf"`` (low-rank tensor fusion), ``"interpretcc"``
        (Gumbel-sigmoid modality gates), ``"switch"`` and ``"moepp"`` (sparse
        mixture-of-experts transformers) are the paper's other backbones. A
        callable is a factory ``f(n_modalities=, n_tokens=, hidden_dim=,
        n_outputs=, **options)`` returning a :class:`torch.nn.Module` that maps
        tokens ``[B, T, H]`` to logits ``[B, C]``; its ``E`` copies are run
        batched with :mod:`torch.func` (it must be picklable to pickle the
        estimator). It is given ``n_layers``, ``n_heads``, ``dropout`` and
        ``rank`` where its signature names them (a ``**options`` catch-all
        alone gets ``fusion_kwargs``). A name registered in
        :data:`sk_i2moe.nn.FUSIONS` after import is taken too.
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
        Attention heads of the transformer backbones; must divide ``hidden_dim``.
    dropout : float, default=0.1
        Dropout in the experts (with the built-in backbones one mask per
        sample, shared by its variants; a callable backbone draws its own).
    rank : int, default=4
        Rank of the low-rank tensor fusion (``fusion="lrtf"``).
    fusion_kwargs : dict, default=None
        Further backbone options, e.g. ``{"ffn_mult": 4}`` for the
        transformer backbones or ``{"n_ffn_experts": 8}`` for the sparse
        ones (the default ``"mlp"`` takes none). An option the
        backbone does not take, an estimator parameter (``n_layers``,
        ``n_heads``, ``dropout``, ``rank``, ``gate_loss_weight``) or a shape the mixture sets
        (``hidden_dim``, ...) is a ``ValueError`` at ``fit``.
    experts : {"all", "synergy_redundancy", "single"}, default="all"
        Which experts exist: a uniqueness expert per modality plus synergy and
        redundancy; only synergy and redundancy; or one expert (vanilla fusion,
        no interaction loss).
    redundancy : {"weighted_mean", "agreement"}, default="weighted_mean"
        ``interaction_constraint="structure"`` only. How the redundancy
        expert combines its predictions from each modality alone:
        ``"weighted_mean"``, a per-sample weighted mean with no modality
        above one half (each modality's weight from its own embedding; a
        modality that carries nothing gets a weight near 0); or
        ``"agreement"``, for each output only what at least two modalities
        back (the median of three modalities' predictions, the smaller of
        two that agree, 0 where two disagree or one modality is sure alone;
        :func:`sk_i2moe.nn.modality_agreement`). Under ``"agreement"`` a
        sample that one modality alone explains gives the redundancy expert
        nothing, so it goes to that modality's uniqueness expert rather than
        being shared with the redundancy expert, but where every modality
        carries a noisy copy of the same signal the mean of the uniqueness
        experts predicts better than the agreement and can take the
        redundancy expert's weight (the interpretation guide).
    reweighting : {"mlp", "static"}, default="mlp"
        Per-sample weights from an MLP on the pooled embeddings, or one learned
        global weight vector.
    interaction_loss_weight : float, default=0.5
        Weight of the interaction term: with ``interaction_constraint="structure"``
        the redundancy expert's task loss from each modality alone
        (``modality_loss``, the only loss that trains those outputs, so it
        must be > 0); with ``"loss"`` the paper's interaction loss on
        perturbed passes (``0`` skips those passes, so training costs what a
        mixture without them costs).
    gate_loss_weight : float, default=0.01
        Weight of the load-balancing loss of the sparse backbones.
    expert_loss_weight : float, default=1.0
        Weight of an auxiliary task loss on every expert's own output. It
        stops experts from becoming constant class voters that the reweighting
        network routes between by class, so that the interaction weights say
        which interaction the data needs (see the interpretation guide).
        ``0`` is the paper's objective.
    missing_modality_loss_weight : float, default=1.0
        ``interaction_constraint="structure"`` only. Weight of the task loss
        of the mixture with each modality missing in turn
        (``missing_modality_loss``): the term that teaches the weights which
        expert needs which modality, so that each sample's weights go to the
        expert of its mechanism. Heavier favours the experts that survive a
        missing modality (uniqueness of another modality, redundancy) over
        synergy, which helped per-sample routing on some data and hurt it
        on other data (the hyperparameter guide); ``0`` leaves the term
        out.
    temperature : float, default=1.0
        Softmax temperature of the interaction weights (lower is sharper);
        with ``redundancy="weighted_mean"`` also of the redundancy expert's
        weights of the modalities.
    perturbation : {"noise", "mean", "zero", "shuffle"}, default="noise"
        The paper's mixture (``interaction_constraint="loss"``) only.
        What replaces a modality's tokens in the perturbed passes: standard
        normal noise (the paper's), the running mean of the training tokens,
        zeros, or another sample's tokens of that modality (a random
        permutation of the batch): an in-distribution reference that an
        expert cannot detect, see the interpretation guide.
    noise_scale : {"unit", "matched"}, default="unit"
        The paper's mixture only. With ``perturbation="noise"``: unit
        variance (the paper) or the mean and standard deviation of the
        modality's tokens in the batch.
    n_perturbed : int, default=None
        The paper's mixture only. Perturb only this many randomly drawn modalities per training step
        (cheaper); None perturbs all of them.
    loss_on : {"logits", "latent"}, default="logits"
        The paper's mixture only. Compute the interaction losses on the experts' outputs or on their
        pooled latent vectors.
    interaction_constraint : {"structure", "loss"}, default="structure"
        The kind of mixture. ``"structure"``
        (:class:`~sk_i2moe.nn.StructuredInteractionMoE`) builds the kinds into
        the experts, so that their inputs are fixed by construction (the
        interaction report checks what they learned): a
        uniqueness expert sees only its modality; the redundancy expert
        combines its predictions from each modality alone (``redundancy``),
        each trained to predict the target alone and by that loss only
        (weight ``interaction_loss_weight``, which must be > 0 here,
        recorded as ``modality_loss``); the synergy
        expert's outputs on each modality alone are subtracted from its
        output; the mixture's task loss trains only the weights, each expert
        learning from its own task loss (``expert_loss_weight`` must be > 0);
        and the weights also answer for the mixture with each modality
        missing in turn, each expert keeping what its kind keeps
        (``missing_modality_loss``, weight ``missing_modality_loss_weight``).
        Training and prediction evaluate the experts on ``M + 1`` rows per
        sample. ``"loss"`` is the paper's
        mixture (:class:`~sk_i2moe.nn.InteractionMoE`): every expert sees
        every modality and the interaction loss on perturbed passes asks it to
        behave as its kind should, which it need not do (the interpretation
        guide shows where it does not); ``perturbation``, ``noise_scale``,
        ``n_perturbed`` and ``loss_on`` apply to it only. Vanilla fusion
        (``experts="single"``) has no interaction kinds and is built as the
        paper's mixture with one expert whatever this parameter says.
    n_members : int or "auto", default="auto"
        Number of mixtures trained side by side, each from its own random
        initialisation and in its own random order of the training data
        (each step gives every member its own batch; one network, one model
        file; 1 gives a single mixture). ``"auto"`` trains {AUTO_MEMBERS_SMALL}
        on at most {SMALL_FIT_ROWS} rows and {AUTO_MEMBERS} on more
        (``n_members_``): on small data the weights move most from seed to
        seed, and a member costs least. Prediction runs the members one by
        one; training runs them as one batched axis where the backbone allows
        (the backbone guide), so that a member costs a fraction of a mixture.
        Predictions average the members' outputs (logits for classifiers);
        the interaction weights are the members' mean, and
        :func:`~sk_i2moe.inspection.interaction_report` widens its weight
        intervals by the members' spread, so that they also cover the
        randomness of training (see the interpretation guide).
    reweight_hidden : int, default=128
        Hidden width of the reweighting MLP.
    reweight_steps : int, default=0
        ``interaction_constraint="structure"`` only. After training, the
        reweighting networks (and the redundancy expert's modality scorer)
        are trained on their own, every expert frozen, by AdamW on all the
        training data at each step (learning rate
        ``sk_i2moe.nn.refine.LEARNING_RATE``, ``weight_decay``), until
        their objective stops improving or for at most this many steps
        (``n_reweight_steps_`` says how many). Training
        stops when the experts are ready, which on small data is before the
        weights have settled, so without this step the weights depend on
        where in their drift the seed's run stopped. It steadies the weights
        of small real data sets over seeds, but on data that mixes
        mechanisms it routes fewer redundancy samples to the redundancy
        expert, and each step is one more pass over the training data (the
        interpretation guide gives both as measured), so it is an option:
        try e.g. ``500``. Every step uses every training row, so its memory
        grows with them (the hyperparameter guide gives the measured peak per
        row).
        ``0`` (default) skips it. The paper's mixture trains its experts
        through the weights and ignores this parameter.
    weight_shrinkage : float, default=0.15
        ``interaction_constraint="structure"`` only. Prediction mixes the
        experts with every sample's weights moved this fraction of the way
        towards the mixture's mean weight over the training rows (each
        member's own mean over the rows with a positive ``sample_weight``;
        restricted to the experts a sample can use).
        Per-sample weights fitted on a few hundred samples carry noise that
        the mean does not, and the experts' outputs do not depend on the
        weights, so this is applied after training and costs nothing to fit.
        It keeps every expert's weights in the same order across samples and
        keeps their mean, but moves a sample's largest weight towards the
        experts most used overall: larger values trade per-sample routing
        for accuracy on small data (the hyperparameter guide gives the
        measurements). ``explain``, ``interaction_weights_``, the
        interaction report, model files and the ONNX export all use the
        shrunk weights that the predictions use. ``0`` predicts with the
        weights as trained (the paper's rule). The paper's mixture trains
        its experts through the weights and ignores this parameter.
    max_epochs : int, default=30
        Training epochs: the number trained with ``early_stopping=False``
        (or where ``"auto"`` cannot hold data out), the most otherwise.
    batch_size : int or "auto", default="auto"
        Mini-batch size for training and prediction. ``"auto"`` uses
        ``min(256, max(128, ceil(n / 8)))`` rows for ``n`` samples (training
        samples when fitting, rows to predict when predicting): 128 up to
        1,024 samples, then eight batches per epoch of at most 256 rows
        (every step has a fixed cost; see the hyperparameter guide). The
        training batch size used is ``batch_size_``.
    lr : float, default=5e-3
        Learning rate of AdamW.
    weight_decay : float, default=1e-2
        Decoupled weight decay of AdamW."""

# the n_members entry names the "auto" rule's numbers (the other braces are literal)
SHARED_PARAMETERS = (
    SHARED_PARAMETERS.replace("{AUTO_MEMBERS_SMALL}", str(AUTO_MEMBERS_SMALL))
    .replace("{SMALL_FIT_ROWS}", str(SMALL_FIT_ROWS))
    .replace("{AUTO_MEMBERS}", str(AUTO_MEMBERS))
)

SHARED_TRAINING_PARAMETERS = f"""\
    early_stopping : bool, "refit" or "auto", default="auto"
        Choose the number of epochs on held-out data. Each mode holds out
        ``validation_fraction`` of the training data (stratified by class for
        classifiers), trains for at most ``max_epochs`` and stops when the
        validation loss has not improved by ``tol`` for ``n_iter_no_change``
        epochs.

        - ``True``: keep the network of the best epoch, trained on the rest
          of the data. The held-out part is also scored every epoch with the
          default metric (``valid_accuracy`` or ``valid_r2`` in ``history_``).
        - ``"refit"``: then fit a fresh network on *all* the data for as
          many epochs as the best one had, but at least {REFIT_MIN_EPOCHS} (or
          ``max_epochs`` if fewer), because the routing of samples to experts
          can settle after the validation loss is lowest (``n_iter_``). The
          floor is waived where the held-out rows show that it costs more
          than half of the best epoch's skill: after the floor's epochs the
          first fit's held-out loss, at the temperature (at least 1) of its
          least loss so that over-confidence alone does not count, is
          shown (one-sided z above {FLOOR_LOSS_Z:g}) to lie above the midpoint of
          the best epoch's and the best constant prediction's, as when wide
          modalities that carry nothing are fitted to noise. The
          validation losses that chose it are ``validation_loss_``. The first
          fit only chooses the number of epochs, so it trains one mixture
          whatever ``n_members`` is; it costs that on top of the second.
          A classifier (structured mixture) is then calibrated: the first
          fit's network, after as many epochs as the second trains, predicts
          the held-out rows it did not train on, and the second's outputs
          are divided by the temperature, at least 1, that gives these
          predictions the least loss (``output_temperature_``): a network
          trained past its lowest validation loss (the floor of
          {REFIT_MIN_EPOCHS} epochs) can be over-confident. Predicted
          classes, the interaction weights and a binary classifier's
          ranking of the rows do not change. The same held-out rows, predicted
          without each modality in turn, choose how far the final model moves
          a sample lacking it towards the constant output
          (``absence_shrinkage_``); complete samples are not changed.
        - ``"auto"``: ``"refit"`` where the held-out part would have at least
          {AUTO_MIN_VALIDATION} samples and (for classifiers) every class can be stratified;
          otherwise train on all the data for ``max_epochs``. Such a fit of
          a classifier (structured mixture) is then calibrated: the same
          estimator is fitted on all but one of {CALIBRATION_FOLDS} folds (stratified; fewer
          folds where a class has fewer samples) in turn, and the network's
          outputs are divided by the temperature, at least 1, that gives
          these cross-fitted predictions the least loss
          (``output_temperature_``). Predicted classes, the interaction
          weights and a binary classifier's ranking of the rows do not
          change; the probabilities
          become less confident where the cross-fitted predictions were
          over-confident. It costs up to {CALIBRATION_FOLDS} more fits on small data. No
          temperature (1) where a class has a single sample or some fold's
          other folds cannot be fitted (no row with a positive weight, or
          none with some modality).
        - ``False``: train on all the data for ``max_epochs``.

        A ``warm_start`` continuation of a ``"refit"``/``"auto"`` fit trains
        on all the data for ``max_epochs``, and predicts without a temperature
        or an absence shrinkage.
    validation_fraction : float, default=0.2
        Share of the data held out by early stopping. Held-out rows of a
        modality that no training-part row has move to the training part, so
        that a rare modality is never left untrained (the held-out part is
        then smaller, and may lack a class; ``"auto"`` then trains on all the
        data where the held-out part no longer meets its conditions).
    n_iter_no_change : int, default=10
        Patience of early stopping, in epochs.
    tol : float, default=1e-4
        Minimum improvement of the validation loss.
    warm_start : bool, default=False
        When True, a further ``fit`` continues training the fitted network for
        ``max_epochs`` more epochs instead of starting afresh. It takes
        ``max_epochs``, ``lr``, ``n_threads``, ``random_state``,
        ``class_weight``, ``validation_fraction``, ``reweight_steps`` and
        ``weight_shrinkage`` from the current parameters; changing any other
        parameter between the fits raises a ``ValueError``, also one that only
        trains (such as ``verbose``, ``callbacks`` or ``batch_size``).
    standardize : bool, default=True
        Standardise every feature with the training mean and standard deviation
        (over the samples that have its modality and a positive weight in the
        loss: ``sample_weight`` 0 leaves a row out, as if it were not given)
        inside the network.
    allow_missing_modalities : bool, default=True
        A modality whose values are all NaN in a row is absent for that
        sample, in ``fit`` and in every prediction and explanation: the model
        is told which modalities each sample has, and the experts that need
        an absent modality get weight 0 (see the missing-modalities guide).
        NaN in only some of a modality's columns is always an error (impute
        it inside the pipeline), and so is a row with every modality absent.
        False raises on absent modalities too, naming them.
    modality_dropout : float, default=0.0
        Training-time modality dropout: in every training batch, each
        modality a row has is treated as absent with this probability (a row
        keeps at least one modality), so that a model trained on complete
        data also learns to predict without a modality. Prediction is
        unaffected. Needs a mixture that trains with absent modalities (not
        the paper's mixture with ``interaction_loss_weight > 0``).
    absence_offset : bool, default=True
        ``interaction_constraint="structure"`` with interaction experts only
        (vanilla fusion, ``experts="single"``, ignores it and has no
        offsets). Learn, per modality, an
        offset to the output (a logit per class for classifiers) that is
        added to the prediction of every sample lacking that modality, so
        that the model can use how often a modality is missing in each class
        (e.g. a test ordered when a doctor suspects something), as an imputed
        constant or a missing-value indicator would. It is not an expert and
        gets no weight; :class:`~sk_i2moe.inspection.Explanation` shows it
        per sample (``absence_offset``). A sample with every modality gets no
        offset, so a fit on complete data is the same either way. False
        (e.g. when missingness reflects access to care rather than the
        patient) learns no offsets, and moves a prediction without a
        modality (``absence_shrinkage_``) towards the constant output of all
        the training rows instead of those lacking the same. What a sample
        lacks still decides which experts it uses, and a modality's experts
        learn from the rows that have it, so where who has a modality goes
        with the target, their outputs carry that.
    device : str or torch.device, default="auto"
        ``"auto"`` uses CUDA when available, else the CPU; ``"cpu"``/``"cuda"``
        force one.
    precision : {{"float32", "bfloat16"}}, default="float32"
        ``"bfloat16"`` runs forward passes under :func:`torch.autocast` with
        bfloat16 (faster on recent GPUs; parameters stay float32).
    compile : bool, default=False
        Compile the network with :func:`torch.compile` (skorch's ``compile``).
        Not taken from a model file: :func:`sk_i2moe.load` compiles only when
        asked (``load(path, compile=True)``).
    n_threads : int, default=None
        Torch CPU threads used by ``fit`` and prediction (restored afterwards);
        None keeps torch's setting. Set it to ``cores // n_jobs`` when running
        fits in parallel. Torch's thread count is process-wide: fits from
        several threads take turns (see ``random_state``), but predictions
        running at the same time in several threads with ``n_threads`` set
        may restore each other's setting (their results are unaffected);
        leave it None when predicting from several threads. A thread that
        starts its first torch work while a call with ``n_threads`` runs keeps
        that count afterwards (torch sets a thread's count once, from the
        process's setting at that moment): in a server, leave it None.
    callbacks : list of skorch callbacks, default=None
        Extra callbacks (or ``(name, callback)`` pairs) for the skorch net,
        e.g. ``EpochScoring("roc_auc", lower_is_better=False)`` with
        ``early_stopping=True`` to score the validation split every epoch.
        A callback sees the targets as the network does: a classifier's
        encoded classes ``0 .. C - 1``, a regressor's standardised targets
        (``(y - mean) / std`` per output, over the ``y`` given to ``fit``)
        and outputs, so that scale-free scores such as ``"r2"`` read as
        usual while errors such as ``"neg_mean_absolute_error"`` are in
        units of the target's standard deviation. With ``on_train=True`` an
        ensemble's score pools every member's training predictions (each
        member sees the rows in its own order); with ``use_caching=False``
        the callback predicts after the epoch, in evaluation mode. ``fit``
        sets up copies; the objects passed stay unchanged. Every training of
        a fit runs them: the one that chooses the epochs, and the
        cross-fitted ones of a calibrated small-data fit (see
        ``early_stopping``), before the final one.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling, dropout, replacement noise and
        the validation split. With None, ``fit`` draws its seed from NumPy's
        global random state (advancing it; ``np.random.seed`` makes such fits
        repeatable, ``torch.manual_seed`` does not), and a RandomState
        instance is advanced the same way, as scikit-learn's estimators do.
        ``fit`` seeds torch's CPU generator (and, for a
        fit on a GPU, that GPU's; no other device's) inside
        :func:`torch.random.fork_rng`, so the caller's random state is
        restored afterwards. As those generators are process-wide, fits
        started at the same time in threads of one process take turns (each is
        reproducible, but they do not run in parallel), ``load`` waits for a
        running fit, and other code drawing torch random numbers in another
        thread during a fit draws from the fit's stream (and changes the fit);
        run parallel fits in processes, as joblib's default backend does.
    verbose : int, default=0
        0 prints nothing; 1 or more reports every epoch: on a terminal,
        skorch's epoch table and a progress bar; otherwise (a log file, a CI
        job) one plain line per epoch, without colour codes or carriage
        returns."""

SHARED_ATTRIBUTES = """\
    modalities_ : dict of str to int
        Modality names, in order, with their number of features.
    n_features_in_ : int
        Number of input features (all modalities).
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Column names, when ``X`` was one DataFrame whose column names are all
        strings (scikit-learn's rule: integer column names are no feature
        names, and an array without names at prediction is not warned about).
    expert_names_ : list of str
        ``["uniqueness[<modality>]", ..., "synergy", "redundancy"]`` (or the
        subset chosen by ``experts``; ``["fusion"]`` for a single expert).
    interaction_weights_ : ndarray of shape (n_experts,)
        Mean interaction weight of each expert over the training rows with a
        positive ``sample_weight`` (sums to 1; positive weights count each row
        once). Every such row counts, including the weight 0 of an expert
        whose modality a row lacks; the interaction report averages over the
        rows that can use each expert instead (see the interpretation guide).
    net_ : I2MoENet
        The fitted skorch net; ``net_.module_`` is the torch model.
    history_ : skorch.History
        Training record: ``train_loss`` and every part of the objective that
        applies (``task_loss``; ``expert_loss`` when ``expert_loss_weight >
        0``; ``interaction_loss`` for the paper's mixture when
        ``interaction_loss_weight > 0``; ``missing_modality_loss`` (when
        ``missing_modality_loss_weight > 0``) and ``modality_loss`` with
        ``interaction_constraint="structure"``;
        ``gate_loss`` for sparse backbones), per batch and per epoch;
        ``valid_loss`` (the task loss) with ``early_stopping=True``, the mode
        that validates every epoch of the network it keeps (the refitting
        modes hold their first fit's held-out losses in ``validation_loss_``);
        and whatever ``callbacks`` record, e.g. ``EpochScoring("roc_auc")``.
    n_iter_ : int
        Number of epochs run (of the final fit, with ``early_stopping="refit"``).
    validation_loss_ : ndarray of shape (n_epochs,) or None
        The held-out loss of every epoch of the fit that chose ``n_iter_``
        (one mixture), when ``early_stopping`` refitted (``"refit"``, or
        ``"auto"`` with enough data); None otherwise, and after a
        ``warm_start`` fit that continued training (its epochs were not
        chosen on held-out data).
    output_temperature_ : float
        What the network's outputs are divided by at prediction: 1, except
        for a classifier (structured mixture) that ``early_stopping``
        refitted (``"refit"``, or ``"auto"`` with enough data: the
        temperature the held-out rows ask for) or that ``"auto"`` trained on
        all the data for lack of held-out samples (the cross-fitted
        temperature); at least 1 (see ``early_stopping``).
    absence_shrinkage_ : dict of str to float, or None
        Per modality, the share of the way to the constant output of the
        training rows lacking what a sample lacks (their class rates, or
        their target's location; of all the training rows with
        ``absence_offset=False``) that prediction moves a sample lacking it:
        chosen on held-out rows where ``early_stopping`` refitted, 0
        otherwise; None for the paper's mixture and vanilla fusion. A sample
        with every modality is predicted as the mixture does.
    n_members_ : int
        Number of mixtures in the fitted network (``n_members`` with
        ``"auto"`` resolved for the training data's size).
    n_reweight_steps_ : int
        Steps that trained the reweighting networks alone after training
        (``reweight_steps``); 0 when skipped.
    batch_size_ : int
        Batch size used in training (``batch_size`` with ``"auto"``
        resolved; a ``warm_start`` refit keeps the first fit's)."""


FIT_GROUPS = """\
            A group label per row (a patient id, say) where several rows come
            from one patient, site or source. The part of the rows that early
            stopping holds out (on which the refit's epochs, the output
            temperature and ``absence_shrinkage_`` are chosen) then holds out
            whole groups, and so do the folds of the cross-fitted temperature
            (see ``early_stopping``), so that they score the model on groups
            it did not train on, as new patients would: about
            ``validation_fraction`` of the rows (the groups go to ``round(1 /
            validation_fraction)`` folds, stratified by class as far as the
            groups allow, and the fold whose share is nearest is held out,
            so a group of many rows is not held out for a small fraction).
            Where no such part exists (fewer groups than folds, or a class
            found in one group only, which cannot be on both sides),
            ``early_stopping="auto"`` warns and trains on all the data, and
            other values raise a ``ValueError``. Unused where nothing is held
            out (``early_stopping=False``); rows each in a group of its own
            give the fit without groups. Any hashable labels, none missing,
            paired with the rows by position: a pandas Series whose index
            holds ``X``'s row labels in another order is refused. A search's
            ``fit(X, y, groups=g)`` gives them to its splitter only; to give
            them to this ``fit`` too, pass them as a fit parameter
            (``params={"groups": g}`` of ``cross_validate``,
            ``model__groups`` in a ``Pipeline``) or, with metadata routing
            enabled, request them (``set_fit_request(groups=True)``; with
            routing, a splitter's groups reach a search only once the
            estimator requests or refuses them:
            ``set_fit_request(groups=False)``)."""


def fill_doc(cls: type) -> type:
    """Insert the shared docs into a class's docstring and its ``fit``'s."""
    cls.__doc__ = (
        cls.__doc__.replace("    {shared_parameters}", SHARED_PARAMETERS)
        .replace("    {shared_training_parameters}", SHARED_TRAINING_PARAMETERS)
        .replace("    {shared_attributes}", SHARED_ATTRIBUTES)
    )
    cls.fit.__doc__ = cls.fit.__doc__.replace("            {fit_groups}", FIT_GROUPS)
    return cls
