"""n_members: mixtures trained side by side, averaged, and their spread in the report."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.utils._param_validation import InvalidParameterError

from sk_i2moe import I2MoEClassifier, I2MoERegressor, load
from sk_i2moe._fit_rules import SMALL_FIT_ROWS
from sk_i2moe.datasets import make_interaction_classification
from sk_i2moe.inspection import interaction_report
from sk_i2moe.nn import InteractionMoE, StructuredInteractionMoE
from sk_i2moe.nn.ensemble import EnsembleObjective, EnsembleOutput, MixtureEnsemble
from sk_i2moe.nn.fusion import FUSIONS

SMALL = {"max_epochs": 4, "hidden_dim": 8, "n_tokens": 2, "random_state": 0, "n_threads": 1}


@pytest.fixture(scope="module")
def data():
    X, y, _ = make_interaction_classification("redundancy", n_samples=240, random_state=0)
    train = {k: v[:160] for k, v in X.items()}
    test = {k: v[160:] for k, v in X.items()}
    return train, y[:160], test, y[160:]


@pytest.fixture(scope="module")
def fitted(data):
    train, y, _, _ = data
    # on the CPU, where the tests below run the members on CPU tensors
    return I2MoEClassifier(**SMALL, n_members=3, device="cpu").fit(train, y)


def _members(clf, X):
    """Each member's output, run directly on the standardised input."""
    module = clf.net_.module_.eval()
    xs = [torch.as_tensor(X[name], dtype=torch.float32) for name in clf.modalities_]
    with torch.no_grad():
        return [member(xs) for member in module.members]


def test_the_ensemble_averages_its_members(fitted, data):
    _, _, test, _ = data
    explanation = fitted.explain(test)
    members = _members(fitted, test)
    assert explanation.member_weights.shape == (80, 3, len(fitted.expert_names_))
    for k, out in enumerate(members):
        np.testing.assert_allclose(explanation.member_weights[:, k], out.weights, atol=1e-6)
    np.testing.assert_allclose(explanation.weights, explanation.member_weights.mean(1), atol=1e-6)
    mean_logits = torch.stack([out.logits for out in members]).mean(0)
    np.testing.assert_allclose(
        fitted.predict_proba(test), torch.softmax(mean_logits, -1).numpy(), atol=1e-5
    )
    # each expert's output is the plain mean of the members' outputs of it
    mean_experts = torch.stack([out.expert_logits for out in members]).mean(0)
    np.testing.assert_allclose(explanation.expert_outputs, mean_experts.numpy(), atol=1e-5)
    # the contributions are the members' mean of weight * output and add up to the output
    own = torch.stack([out.weights[..., None] * out.expert_logits for out in members]).mean(0)
    np.testing.assert_allclose(explanation.contributions, own.numpy(), atol=1e-5)
    np.testing.assert_allclose(explanation.contributions.sum(1), explanation.output, atol=1e-5)
    odds = explanation.log_odds()
    np.testing.assert_allclose(odds.contributions.sum(1), odds.output, atol=1e-5)
    np.testing.assert_allclose(fitted.interaction_weights_.sum(), 1.0, atol=1e-5)


def test_an_ensembles_uniqueness_outputs_see_only_their_modality(fitted, data):
    # the members' weights read every modality; the experts' outputs must not
    _, _, test, _ = data
    before = fitted.explain(test)
    changed = {**test, "m1": test["m1"][::-1].copy(), "m2": test["m2"] * -3.0}
    after = fitted.explain(changed)
    m0 = fitted.expert_names_.index("uniqueness[m0]")
    np.testing.assert_array_equal(after.expert_outputs[:, m0], before.expert_outputs[:, m0])
    assert not np.allclose(after.weights[:, m0], before.weights[:, m0])


def test_members_start_from_different_initialisations(fitted, data):
    _, _, test, _ = data
    weights = fitted.explain(test).member_weights
    assert not np.allclose(weights[:, 0], weights[:, 1], atol=1e-3)
    first, second = fitted.net_.module_.members[:2]
    encoder = "encoders.0." + next(iter(dict(first.encoders[0].named_parameters())))
    own = dict(first.named_parameters())
    assert not torch.equal(own[encoder], dict(second.named_parameters())[encoder])


def _two_members(dropout: float = 0.1):
    """A seeded two-member structured ensemble and its objective (three 10-feature modalities)."""
    torch.manual_seed(0)
    model = MixtureEnsemble(
        StructuredInteractionMoE,
        2,
        n_features=[10, 10, 10],
        n_outputs=2,
        fusion_kwargs={"dropout": dropout},
    )
    objective = EnsembleObjective(
        StructuredInteractionMoE.Objective, task_loss=torch.nn.CrossEntropyLoss(reduction="none")
    )
    return model, objective


def test_the_objective_is_the_members_mean(data):
    train, y, _, _ = data
    model, objective = _two_members()
    xs = [torch.as_tensor(v[:16], dtype=torch.float32) for v in train.values()]
    target = torch.as_tensor(y[:16])
    out = model(xs)
    total, parts = objective(out, target)
    alone = [objective.member(o, target) for o in out.members]
    torch.testing.assert_close(total, (alone[0][0] + alone[1][0]) / 2)
    torch.testing.assert_close(
        parts["task_loss"], (alone[0][1]["task_loss"] + alone[1][1]["task_loss"]) / 2
    )
    with pytest.raises(ValueError, match="training mode"):
        objective(model.eval()(xs), target)


def test_each_member_trains_on_its_own_block_of_a_streamed_batch(data):
    train, y, _, _ = data
    model, objective = _two_members(dropout=0.0)  # no random draws: the same outputs
    xs = [torch.as_tensor(v[:32], dtype=torch.float32) for v in train.values()]
    present = torch.ones(32, 3, dtype=torch.bool)
    present[::3, 1] = False
    target, weight = torch.as_tensor(y[:32]), torch.rand(32)
    out = model(xs, present, streams=2)
    alone = [
        member([x[16 * k : 16 * (k + 1)] for x in xs], present[16 * k : 16 * (k + 1)])
        for k, member in enumerate(model.members)
    ]
    assert out.streams == 2 and out.member_weights is None and out.logits.shape == (32, 2)
    torch.testing.assert_close(out.weights, torch.cat([o.weights for o in alone]))
    torch.testing.assert_close(out.present, present)
    total, _ = objective(out, target, weight)
    scored = [
        objective.member(o, target[16 * k : 16 * (k + 1)], weight[16 * k : 16 * (k + 1)])[0]
        for k, o in enumerate(alone)
    ]
    torch.testing.assert_close(total, (scored[0] + scored[1]) / 2)
    with pytest.raises(ValueError, match="equal block"):
        model(xs, present, streams=3)
    with pytest.raises(ValueError, match="equal block"):
        model([x[:31] for x in xs], streams=2)


VMAPPABLE = [name for name, backbone in FUSIONS.items() if getattr(backbone, "vmappable", False)]


@pytest.mark.parametrize("fusion", VMAPPABLE)
@pytest.mark.parametrize("streams", [1, 3])
def test_members_run_as_one_batched_axis_as_they_would_one_by_one(fusion, streams, monkeypatch):
    torch.manual_seed(0)
    options = {"n_features": [6, 4, 5], "n_outputs": 2, "hidden_dim": 8, "fusion": fusion}
    model = MixtureEnsemble(StructuredInteractionMoE, 3, **options, fusion_kwargs={"dropout": 0})
    assert model.members[0].vmappable
    xs = [torch.randn(12, d) for d in options["n_features"]]
    present = torch.rand(12, 3) > 0.3
    present[:, 0] = True

    # without dropout nothing is drawn at random but interpretcc's gate noise: make it 0
    monkeypatch.setattr(torch, "rand", lambda *shape, **kw: torch.full(shape, 0.5, **kw))

    def run() -> tuple[EnsembleOutput, list[torch.Tensor]]:
        model.zero_grad()
        out = model.train()(xs, present, streams=streams)
        loss = sum((o.logits**2).sum() + o.modality_logits.sum() for o in out.members)
        loss.backward()
        return out, [torch.zeros_like(p) if p.grad is None else p.grad for p in model.parameters()]

    batched, batched_grads = run()
    monkeypatch.setattr(StructuredInteractionMoE, "vmappable", False)
    looped, looped_grads = run()
    for name in ("logits", "weights", "expert_logits"):
        torch.testing.assert_close(getattr(batched, name), getattr(looped, name))
    assert len(batched_grads) == len(looped_grads) == len(list(model.parameters()))
    for a, b in zip(batched_grads, looped_grads):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_batched_members_draw_their_own_dropout_masks():
    torch.manual_seed(0)
    model = MixtureEnsemble(StructuredInteractionMoE, 2, n_features=[6, 4], n_outputs=2)
    model.members[1].load_state_dict(model.members[0].state_dict())  # two identical members
    xs = [torch.randn(8, 6), torch.randn(8, 4)]
    out = model.train()(xs)
    assert not torch.allclose(out.members[0].logits, out.members[1].logits)
    evaluated = model.eval()(xs)
    torch.testing.assert_close(evaluated.member_weights[:, 0], evaluated.member_weights[:, 1])


def test_only_stateless_mixtures_with_a_vmappable_backbone_batch_their_members():
    options = {"n_features": [6, 4], "n_outputs": 2, "hidden_dim": 8}
    assert not InteractionMoE(**options).vmappable  # its forward updates a buffer
    assert not StructuredInteractionMoE(**options, fusion="transformer").vmappable
    assert StructuredInteractionMoE(**options).vmappable  # the default backbone


def test_the_estimator_streams_one_order_per_member(fitted):
    assert fitted.net_.get_params()["iterator_train__streams"] == 3


def test_the_report_widens_weight_intervals_by_the_members_spread(fitted, data):
    _, _, test, y_test = data
    report = interaction_report(fitted, test, y_test, n_bootstrap=400)
    member_means = fitted.explain(test).member_weights.mean(0)  # [K, E]
    table = report.table
    assert (table["weight_low"].to_numpy() <= member_means.min(0) + 1e-9).all()
    assert (table["weight_high"].to_numpy() >= member_means.max(0) - 1e-9).all()
    np.testing.assert_allclose(table["mean_weight"], member_means.mean(0), atol=1e-6)


def test_model_files_and_pickles_keep_every_member(fitted, data, tmp_path):
    _, _, test, _ = data
    path = tmp_path / "ensemble.safetensors"
    fitted.save(path)
    expected = fitted.explain(test).member_weights
    for twin in (load(path), pickle.loads(pickle.dumps(fitted))):
        np.testing.assert_allclose(twin.explain(test).member_weights, expected, atol=1e-6)
        np.testing.assert_allclose(twin.predict_proba(test), fitted.predict_proba(test), atol=1e-6)


@pytest.mark.parametrize("constraint", ["loss", "structure"])
def test_both_kinds_and_the_regressor_train_as_ensembles(data, constraint):
    train, y, _, _ = data
    reg = I2MoERegressor(**SMALL, n_members=2, interaction_constraint=constraint)
    reg.fit(train, y + train["m0"][:, 0])
    kind = InteractionMoE if constraint == "loss" else StructuredInteractionMoE
    assert all(type(m) is kind for m in reg.net_.module_.members)
    assert reg.history_[-1, "train_loss"] < reg.history_[0, "train_loss"]
    assert reg.predict(train).shape == (160,)
    # in target units the contributions still add up to the prediction
    explanation = reg.explain(train)
    assert explanation.member_outputs.shape == (160, 2, len(reg.expert_names_), 1)
    np.testing.assert_allclose(
        explanation.contributions.sum(1)[:, 0], reg.predict(train), rtol=1e-4, atol=1e-4
    )


def test_one_member_is_the_plain_mixture(data):
    train, y, _, _ = data
    clf = I2MoEClassifier(**SMALL, n_members=1).fit(train, y)
    assert isinstance(clf.net_.module_, StructuredInteractionMoE)
    assert clf.n_members_ == 1
    explanation = clf.explain(train)
    assert explanation.member_weights is None and explanation.member_outputs is None
    for wrong in (0, "all", 2.0):
        with pytest.raises(InvalidParameterError, match="n_members"):
            I2MoEClassifier(n_members=wrong).fit(train, y)


@pytest.mark.parametrize(("rows", "members"), [(SMALL_FIT_ROWS, 8), (SMALL_FIT_ROWS + 1, 4)])
def test_the_default_trains_eight_members_on_small_data_and_four_on_more(rows, members):
    X, y, _ = make_interaction_classification("redundancy", n_samples=rows, random_state=0)
    options = {**SMALL, "max_epochs": 1, "early_stopping": False}
    clf = I2MoEClassifier(**options).fit(X, y)
    assert clf.n_members == "auto" and clf.n_members_ == members
    assert len(clf.net_.module_.members) == members
    assert clf.explain({k: v[:5] for k, v in X.items()}).member_weights.shape[1] == members
    # an integer is taken as it is, whatever the size
    assert I2MoEClassifier(**options, n_members=2).fit(X, y).n_members_ == 2


def test_a_continued_fit_keeps_its_members_whatever_the_new_size(data):
    train, y, _, _ = data
    clf = I2MoEClassifier(**SMALL, warm_start=True).fit(train, y)
    assert clf.n_members_ == 8
    X, y_more, _ = make_interaction_classification(
        "redundancy", n_samples=SMALL_FIT_ROWS + 60, random_state=1
    )
    clf.fit(X, y_more)
    assert clf.n_members_ == 8 and len(clf.net_.module_.members) == 8


def test_an_explanation_needs_both_member_arrays():
    from sk_i2moe.inspection import Explanation

    args = (np.ones((1, 1)), np.zeros((1, 1, 1)), np.zeros((1, 1)), ["fusion"], ["y"])
    with pytest.raises(ValueError, match="member_weights and member_outputs"):
        Explanation(*args, member_weights=np.ones((1, 2, 1)))


def test_a_refit_chooses_its_epochs_with_one_mixture(data):
    # the first fit of early_stopping="refit" only picks the number of epochs: it trains one
    # mixture whatever n_members is (same split and seed, so the same validation losses),
    # and the fit that follows trains every member
    train, y, _, _ = data
    options = {**SMALL, "max_epochs": 5, "early_stopping": "refit"}
    one = I2MoEClassifier(**options, n_members=1).fit(train, y)
    three = I2MoEClassifier(**options, n_members=3).fit(train, y)
    assert one.validation_loss_ is not None and len(one.validation_loss_) == 5
    np.testing.assert_allclose(three.validation_loss_, one.validation_loss_, rtol=1e-6)
    assert len(three.net_.module_.members) == 3
    assert three.n_iter_ == one.n_iter_


@pytest.mark.parametrize(
    "params",
    [
        {"interaction_constraint": "loss", "interaction_loss_weight": 0.0},
        {"interaction_constraint": "loss", "interaction_loss_weight": 0.0, "experts": "single"},
        {},
    ],
)
def test_every_kind_of_member_is_told_which_modalities_are_absent(params):
    # the paper's mixture takes ``reference`` before ``present``: an ensemble must hand the
    # mask over by name, or its members see an absent modality as a measured one
    rng = np.random.default_rng(0)
    X = {"a": rng.normal(size=(120, 3)), "b": rng.normal(size=(120, 2))}
    y = (X["a"][:, 0] > 0).astype(int)
    X["b"][:40] = np.nan
    clf = I2MoEClassifier(max_epochs=2, hidden_dim=8, n_members=2, random_state=0, **params)
    explanation = clf.fit(X, y).explain(X)
    if explanation.weights.shape[1] > 1:  # uniqueness[b] cannot be used without b
        assert np.all(explanation.member_weights[:40, :, 1] == 0)
    one = I2MoEClassifier(max_epochs=2, hidden_dim=8, n_members=1, random_state=0, **params)
    members = clf.net_.module_.members
    one.fit(X, y).net_.module_.load_state_dict(members[0].state_dict())
    alone = one.explain(X)
    np.testing.assert_allclose(explanation.member_outputs[:, 0], alone.expert_outputs, atol=1e-5)


def test_training_scores_pair_each_members_predictions_with_their_targets():
    # an ensemble's training batch holds row i of each member's stream: scored on the training
    # rows (EpochScoring on_train=True), its output must meet the targets in the same order
    from skorch.callbacks import EpochScoring

    rng = np.random.default_rng(0)
    X = {"a": rng.normal(size=(96, 2)), "b": rng.normal(size=(96, 2))}
    y = (X["a"][:, 0] > 0).astype(int)  # separable: a fitted member is right on nearly every row
    score = EpochScoring("accuracy", on_train=True, name="train_accuracy")
    clf = I2MoEClassifier(
        max_epochs=80,
        hidden_dim=8,
        n_members=2,
        early_stopping=False,
        random_state=0,
        n_threads=1,
        callbacks=[score],
    ).fit(X, y)
    assert clf.history_[-1, "train_accuracy"] > 0.9  # paired out of order: about 0.5


@pytest.mark.parametrize("on_train", [True, False])
@pytest.mark.parametrize("n_members", [1, 2])
def test_scores_without_caching_predict_on_the_rows_they_score(on_train, n_members):
    # EpochScoring(use_caching=False) predicts on skorch's dataset after each epoch and reads the
    # targets from it (it found none: "Expected array-like, got None"); on the validation rows it
    # scores what the cached default metric scores
    from skorch.callbacks import EpochScoring

    rng = np.random.default_rng(0)
    X = {"a": rng.normal(size=(120, 2)), "b": rng.normal(size=(120, 2))}
    y = (X["a"][:, 0] > 0).astype(int)
    score = EpochScoring("accuracy", on_train=on_train, use_caching=False, name="uncached")
    clf = I2MoEClassifier(
        max_epochs=40,
        hidden_dim=8,
        n_members=n_members,
        early_stopping=not on_train,
        validation_fraction=0.25,
        random_state=0,
        n_threads=1,
        callbacks=[score],
    ).fit(X, y)
    uncached = clf.history_[-1, "uncached"]
    if on_train:
        assert uncached > 0.75  # separable (chance: 0.5); the rows and the targets in one order
    else:
        assert uncached == pytest.approx(clf.history_[-1, "valid_accuracy"])
