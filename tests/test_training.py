"""Training options: weights, early stopping, warm start, verbosity, callbacks, batching."""

import math
import sys

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from skorch.callbacks import Callback

from sk_i2moe import I2MoEClassifier
from sk_i2moe._data import ModalityDataset, resolve_batch_size
from sk_i2moe._fit_rules import REFIT_MIN_EPOCHS

SMALL = {"max_epochs": 4, "hidden_dim": 8, "n_tokens": 2, "batch_size": 32, "random_state": 0}


@pytest.fixture(scope="module")
def imbalanced():
    rng = np.random.default_rng(0)
    n = 300
    X = {"a": rng.normal(size=(n, 3)), "b": rng.normal(size=(n, 2))}
    y = (X["a"][:, 0] + 0.5 * rng.normal(size=n) > 1.3).astype(int)  # about 10% positives
    return X, y


def _minority_proba(clf, X):
    return clf.predict_proba(X)[:, 1].mean()


def test_class_weight_and_sample_weight_favour_the_minority(imbalanced):
    X, y = imbalanced
    assert 0.03 < y.mean() < 0.2
    plain = _minority_proba(I2MoEClassifier(**SMALL).fit(X, y), X)
    balanced = _minority_proba(I2MoEClassifier(**SMALL, class_weight="balanced").fit(X, y), X)
    as_dict = _minority_proba(I2MoEClassifier(**SMALL, class_weight={0: 1, 1: 10}).fit(X, y), X)
    weights = np.where(y == 1, 10.0, 1.0)
    weighted = _minority_proba(I2MoEClassifier(**SMALL).fit(X, y, sample_weight=weights), X)
    assert balanced > plain + 0.1
    assert as_dict > plain + 0.1
    assert weighted > plain + 0.1
    # sample_weight=10 on positives is the same objective as class_weight={0: 1, 1: 10}
    assert weighted == pytest.approx(as_dict, abs=1e-5)


def test_no_data_held_out_without_early_stopping(imbalanced):
    X, y = imbalanced
    clf = I2MoEClassifier(**SMALL).fit(X, y)
    assert sum(clf.history_[-1, "batches", :, "train_batch_size"]) == len(y)
    assert "valid_loss" not in clf.history_[-1]


@given(st.integers(1, 100_000))
def test_auto_batch_size_keeps_small_data_at_128_and_eight_steps_per_epoch_above(n):
    batch = resolve_batch_size("auto", n)
    assert 128 <= batch <= 256
    if n <= 1024:
        assert batch == 128
    elif n <= 2048:
        assert math.ceil(n / batch) == 8
    else:
        assert batch == 256


def test_auto_batch_size_is_resolved_on_the_training_rows():
    rng = np.random.default_rng(0)
    n = 1600
    X = {"a": rng.normal(size=(n, 3)), "b": rng.normal(size=(n, 2))}
    y = (X["a"][:, 0] > 0).astype(int)
    tiny = {**SMALL, "max_epochs": 1, "batch_size": "auto"}
    clf = I2MoEClassifier(**tiny).fit(X, y)
    assert clf.batch_size_ == 200
    sizes = clf.history_[-1, "batches", :, "train_batch_size"]
    assert sizes == [200] * 8
    # the validation hold-out leaves 800 training rows: small data, batches of 128
    held_out = I2MoEClassifier(**tiny, early_stopping=True, validation_fraction=0.5).fit(X, y)
    assert held_out.batch_size_ == 128
    assert held_out.get_params()["batch_size"] == "auto"
    assert I2MoEClassifier(**{**tiny, "batch_size": 50}).fit(X, y).batch_size_ == 50
    # a warm_start refit continues with the first fit's batches, whatever the new data's size
    clf.set_params(warm_start=True).fit({k: v[:300] for k, v in X.items()}, y[:300])
    assert clf.batch_size_ == 200
    assert clf.history_[-1, "batches", :, "train_batch_size"] == [200, 100]


def test_early_stopping_holds_out_a_stratified_seeded_split(imbalanced):
    X, y = imbalanced
    clf = I2MoEClassifier(**SMALL, early_stopping=True, validation_fraction=0.2)
    dataset = ModalityDataset(list(X.values()), y)
    train, valid = clf._split(dataset, y, seed=3)
    assert len(valid) == 60 and len(train) == 240
    assert valid.y.float().mean().item() == pytest.approx(y.mean(), abs=0.02)
    again, _ = clf._split(dataset, y, seed=3)
    other, _ = clf._split(dataset, y, seed=4)
    assert np.array_equal(again.inputs[0].numpy(), train.inputs[0].numpy())
    assert not np.array_equal(other.inputs[0].numpy(), train.inputs[0].numpy())

    clf.set_params(max_epochs=200, n_iter_no_change=3, lr=0.05).fit(X, y)
    assert clf.n_iter_ < 200
    assert np.isfinite(clf.history_[:, "valid_loss"]).all()
    assert sum(clf.history_[-1, "batches", :, "train_batch_size"]) == 240


def test_warm_start_continues_training(imbalanced):
    X, y = imbalanced
    clf = I2MoEClassifier(**SMALL, warm_start=True, n_members=1).fit(X, y)
    first = clf.history_[:, "train_loss"]
    weight = clf.net_.module_.reweighting.net[0].weight.detach().cpu().numpy().copy()
    clf.fit(X, y)
    assert clf.n_iter_ == 8
    assert clf.history_[4, "train_loss"] < first[0]
    assert not np.allclose(clf.net_.module_.reweighting.net[0].weight.detach().cpu(), weight)
    cold = I2MoEClassifier(**SMALL).fit(X, y)
    cold.fit(X, y)
    assert cold.n_iter_ == 4
    # lr and max_epochs are taken from the current parameters
    clf.set_params(lr=1e-4, max_epochs=2).fit(X, y)
    assert clf.n_iter_ == 10 and clf.net_.lr == 1e-4
    assert clf.net_.optimizer_.param_groups[0]["lr"] == 1e-4
    # anything else built into the net must not change silently
    with pytest.raises(ValueError, match="hidden_dim: 8 -> 16"):
        clf.set_params(hidden_dim=16).fit(X, y)
    clf.set_params(hidden_dim=8)
    for name, value in [("interaction_loss_weight", 2.0), ("batch_size", 16), ("temperature", 0.5)]:
        before = clf.get_params()[name]
        with pytest.raises(ValueError, match=f"{name}: {before!r} -> {value!r}.*warm_start=False"):
            clf.set_params(**{name: value}).fit(X, y)
        clf.set_params(**{name: before})
    assert clf.fit(X, y).n_iter_ == 12


def test_verbose_zero_is_silent_and_verbose_one_reports(imbalanced, capsys):
    X, y = imbalanced
    I2MoEClassifier(**{**SMALL, "max_epochs": 2}, verbose=0).fit(X, y).predict(X)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""
    # not a terminal (captured, as in a log file): one plain line per epoch
    I2MoEClassifier(**{**SMALL, "max_epochs": 2}, verbose=1, early_stopping=True).fit(X, y)
    out = capsys.readouterr()
    lines = out.out.splitlines()
    assert [line.split("  ")[0] for line in lines] == ["epoch 1/2", "epoch 2/2"]
    assert all("train_loss=" in line and "modality_loss=" in line for line in lines)
    assert all("valid_loss=" in line and "valid_accuracy=" in line for line in lines)
    assert "\r" not in out.out + out.err and "\x1b[" not in out.out + out.err
    assert out.err == ""  # no progress bar


def test_verbose_on_a_terminal_shows_the_table_and_a_progress_bar(imbalanced, capsys, monkeypatch):
    X, y = imbalanced
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    I2MoEClassifier(**{**SMALL, "max_epochs": 2}, verbose=1).fit(X, y)
    out = capsys.readouterr()
    assert "epoch" in out.out and "train_loss" in out.out and "modality_loss" in out.out
    assert "%" in out.err or "it/s" in out.err or "batch" in out.err  # the progress bar


def test_early_stopping_records_a_validation_score(imbalanced):
    X, y = imbalanced
    clf = I2MoEClassifier(**SMALL, early_stopping=True).fit(X, y)
    scores = clf.history_[:, "valid_accuracy"]
    assert len(scores) == clf.n_iter_ and all(0 <= s <= 1 for s in scores)
    assert "valid_accuracy" not in I2MoEClassifier(**SMALL).fit(X, y).history_[-1]


def test_extra_callbacks_are_passed_through(imbalanced):
    X, y = imbalanced

    class CountEpochs(Callback):
        def initialize(self):
            self.epochs = 0
            return self

        def on_epoch_end(self, net, **kwargs):
            self.epochs += 1

    counter = CountEpochs()
    clf = I2MoEClassifier(**SMALL, callbacks=[("count", counter)]).fit(X, y)
    assert dict(clf.net_.callbacks_)["count"].epochs == 4


@pytest.mark.parametrize("method", ["predict", "predict_proba", "explain"])
def test_prediction_memory_is_bounded_by_batch_size(imbalanced, method):
    X, y = imbalanced
    clf = I2MoEClassifier(**SMALL).fit(X, y)
    module = clf.net_.module_
    seen = []
    forward = module.forward

    def recording(xs, **kwargs):
        seen.append(xs[0].shape[0])
        return forward(xs, **kwargs)

    module.forward = recording
    big = {k: np.tile(v, (4, 1)) for k, v in X.items()}  # 1200 rows
    result = getattr(clf, method)(big)
    assert max(seen) == 32 and sum(seen) == 1200
    # the current batch_size applies, e.g. lowered after fit to predict with less memory
    seen.clear()
    clf.set_params(batch_size=100)
    getattr(clf, method)(big)
    assert max(seen) == 100 and sum(seen) == 1200
    del module.forward
    n = result.weights.shape[0] if method == "explain" else len(result)
    assert n == 1200


def test_warm_start_compares_array_valued_parameters():
    # modality masks compare element-wise: an equal copy continues, a changed mask is named
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 6))
    y = (X[:, 0] > 0).astype(int)
    masks = {"a": np.arange(6) < 3, "b": np.arange(6) >= 3}
    clf = I2MoEClassifier(**{**SMALL, "max_epochs": 1}, modalities=masks, warm_start=True)
    clf.fit(X, y)
    clf.set_params(modalities={name: mask.copy() for name, mask in masks.items()}).fit(X, y)
    assert clf.n_iter_ == 2
    with pytest.raises(ValueError, match="modalities: "):
        clf.set_params(modalities={"a": masks["b"], "b": masks["a"]}).fit(X, y)


def _stopper(clf):
    return dict(clf.net_.callbacks_).get("early_stopping")


def test_refit_chooses_the_epochs_on_held_out_data_then_fits_all_the_data(imbalanced):
    X, y = imbalanced
    params = {**SMALL, "max_epochs": 40, "n_iter_no_change": 3, "lr": 0.05, "n_members": 1}
    keep = I2MoEClassifier(**params, early_stopping=True, validation_fraction=0.2).fit(X, y)
    refit = I2MoEClassifier(**params, early_stopping="refit", validation_fraction=0.2).fit(X, y)
    # the same held-out split and selection as keeping the best epoch ...
    np.testing.assert_allclose(refit.validation_loss_, keep.history_[:, "valid_loss"])
    best = _stopper(keep).best_epoch_
    assert best < REFIT_MIN_EPOCHS  # the floor binds here ...
    assert refit.n_iter_ == REFIT_MIN_EPOCHS  # ... so the refit trains that many epochs
    # ... then a fresh network on all the rows, for that many epochs, without a split
    assert len(refit.history_) == refit.n_iter_
    assert sum(refit.history_[-1, "batches", :, "train_batch_size"]) == len(y)
    assert "valid_loss" not in refit.history_[-1] and _stopper(refit) is None
    features = np.column_stack(list(X.values()))
    np.testing.assert_allclose(
        np.concatenate([getattr(refit.net_.module_, f"loc_{m}").cpu().numpy() for m in range(2)]),
        features.mean(0),
        atol=1e-5,
    )
    assert keep.validation_loss_ is None
    assert I2MoEClassifier(**SMALL, early_stopping=False).fit(X, y).validation_loss_ is None
    again = I2MoEClassifier(**params, early_stopping="refit", validation_fraction=0.2).fit(X, y)
    np.testing.assert_array_equal(again.predict_proba(X), refit.predict_proba(X))


def test_auto_early_stopping_needs_enough_held_out_samples(imbalanced):
    X, y = imbalanced
    # 300 * 0.2 = 60 held-out samples: the epochs are chosen
    chosen = I2MoEClassifier(**SMALL, early_stopping="auto", validation_fraction=0.2).fit(X, y)
    assert chosen.validation_loss_ is not None
    # the refit's floor of REFIT_MIN_EPOCHS epochs never exceeds max_epochs
    assert chosen.n_iter_ == SMALL["max_epochs"] < REFIT_MIN_EPOCHS
    # "auto" with a 20 % split is the default
    default = I2MoEClassifier(**SMALL).fit(X, y)
    np.testing.assert_array_equal(default.validation_loss_, chosen.validation_loss_)
    # 90 * 0.2 = 18 < 20: trained on all the data for max_epochs
    small = {k: v[:90] for k, v in X.items()}
    few = I2MoEClassifier(**SMALL, early_stopping="auto", validation_fraction=0.2)
    few.fit(small, y[:90])
    assert few.validation_loss_ is None and few.n_iter_ == SMALL["max_epochs"]
    assert sum(few.history_[-1, "batches", :, "train_batch_size"]) == 90
    # a class with one sample cannot be stratified: "auto" trains on all, the others say why
    single = y.copy()
    single[0] = 2
    assert I2MoEClassifier(**SMALL, early_stopping="auto").fit(X, single).validation_loss_ is None
    for mode in (True, "refit"):
        with pytest.raises(ValueError, match=rf"early_stopping={mode!r}.*early_stopping='auto'"):
            I2MoEClassifier(**SMALL, early_stopping=mode).fit(X, single)


def test_a_warm_start_after_refit_trains_on_all_the_data(imbalanced):
    X, y = imbalanced
    clf = I2MoEClassifier(**SMALL, early_stopping="refit", warm_start=True).fit(X, y)
    first = clf.n_iter_
    clf.fit(X, y)
    assert clf.n_iter_ == first + SMALL["max_epochs"]
    assert sum(clf.history_[-1, "batches", :, "train_batch_size"]) == len(y)


def test_a_continued_fit_has_no_epochs_chosen_on_held_out_data(imbalanced):
    X, y = imbalanced
    clf = I2MoEClassifier(**SMALL, early_stopping="refit", n_members=1, warm_start=True)
    clf.fit(X, y)
    assert clf.validation_loss_ is not None
    clf.fit(X, y)  # continues: its epochs were not chosen on held-out data
    assert clf.validation_loss_ is None


@pytest.mark.parametrize("fraction, advice", [(0.95, "smaller"), (0.02, "larger")])
def test_an_impossible_split_says_which_way_to_move_the_fraction(fraction, advice):
    rng = np.random.default_rng(0)
    X = {"a": rng.normal(size=(25, 3))}
    y = np.r_[np.zeros(20, dtype=int), np.ones(5, dtype=int)]
    clf = I2MoEClassifier(**SMALL, early_stopping=True, validation_fraction=fraction)
    with pytest.raises(ValueError, match=f"a {advice} validation_fraction"):
        clf.fit(X, y)


def test_the_validation_loss_is_the_weighted_mean_over_every_held_out_row(imbalanced):
    # skorch averages the validation batches' losses by their sizes; with sample weights that
    # differ between batches, the batches' weighted means must be scaled to give the whole
    # held-out part's weighted mean, which early stopping compares between epochs
    import torch

    X, y = imbalanced
    weights = np.where(np.random.default_rng(1).random(len(y)) < 0.5, 0.1, 5.0)
    clf = I2MoEClassifier(
        **{**SMALL, "max_epochs": 1, "batch_size": 8},
        early_stopping=True,
        n_members=1,
        weight_shrinkage=0.0,
    ).fit(X, y, sample_weight=weights)
    dataset = ModalityDataset([v.astype(np.float32) for v in X.values()], y, weights)
    seed = np.random.RandomState(SMALL["random_state"]).randint(np.iinfo(np.int32).max)
    _, valid = clf._split(dataset, y, seed)
    logits = torch.from_numpy(clf.net_.forward_outputs(valid, len(valid))["logits"])
    loss = clf.net_.criterion_.weighted_task_loss(logits, valid.y, valid.sample_weight)
    assert clf.history_[-1, "valid_loss"] == pytest.approx(loss.item(), rel=1e-5)


def test_warm_start_takes_parameters_without_equality_as_unchanged_copies():
    # the fit keeps copies of the network's parameters; a module instance in fusion_kwargs or a
    # functools.partial backbone has no ==, and its copy must still read as unchanged
    import functools

    from torch import nn

    def factory(n_modalities, n_tokens, hidden_dim, n_outputs, act):
        width = n_modalities * n_tokens * hidden_dim
        return nn.Sequential(nn.Flatten(), nn.Linear(width, n_outputs), act)

    rng = np.random.default_rng(0)
    X = {"a": rng.normal(size=(60, 3)), "b": rng.normal(size=(60, 2))}
    y = (X["a"][:, 0] > 0).astype(int)
    clf = I2MoEClassifier(
        **{**SMALL, "max_epochs": 1},
        n_members=1,
        fusion=functools.partial(factory),
        fusion_kwargs={"act": nn.Tanh()},
    ).fit(X, y)
    clf.set_params(warm_start=True).fit(X, y)
    assert clf.n_iter_ == 2
    clf.fusion_kwargs["act"] = nn.ReLU()  # another module, edited in place: a change
    with pytest.raises(ValueError, match="fusion_kwargs"):
        clf.fit(X, y)


def _held_out(y: np.ndarray, weights: np.ndarray | None = None) -> ModalityDataset:
    return ModalityDataset([np.zeros((len(y), 1), np.float32)], y, weights)


@pytest.fixture(scope="module")
def searched(imbalanced):
    """A fitted classifier whose objective and temperature rule ``_refit_epochs`` reads."""
    X, y = imbalanced
    return I2MoEClassifier(**{**SMALL, "max_epochs": REFIT_MIN_EPOCHS}).fit(X, y)


def _crafted_outputs():
    """Held-out labels and outputs: 85 % right and moderately confident, and noise."""
    rng = np.random.default_rng(1)
    y = np.repeat([0, 1], 100)
    right = np.where(rng.random(200) < 0.85, y, 1 - y)
    skilled = torch.as_tensor(np.column_stack([1.0 - right, right]) * 2.0 - 1.0).float()
    noise = torch.as_tensor(rng.normal(scale=3.0, size=(200, 2))).float()
    return y, skilled, noise


def test_the_floor_is_waived_only_where_it_costs_most_of_the_held_out_skill(searched):
    # the rule that chooses the refit's epochs, on crafted held-out outputs of the search
    y, skilled, noise = _crafted_outputs()
    train, valid = _held_out(np.repeat([0, 1], 200)), _held_out(y)

    def epochs(at_best, at_floor, best=3):
        return searched._refit_epochs(best, train, valid, {best: at_best, 10: at_floor})

    # the floor's outputs rank no better than noise: the best epoch is kept
    assert epochs(skilled, noise) == 3
    # over-confident but as right as the best epoch's: the temperature undoes it, the floor stays
    assert epochs(skilled, 6.0 * skilled) == REFIT_MIN_EPOCHS
    # half as confident: calibrated, it keeps more than half the skill
    assert epochs(skilled, 0.5 * skilled) == REFIT_MIN_EPOCHS
    # no skill at the best epoch to keep: the floor stays
    assert epochs(noise, noise) == REFIT_MIN_EPOCHS
    assert epochs(-skilled, noise) == REFIT_MIN_EPOCHS
    # the best epoch is the floor or later: nothing to choose
    assert epochs(skilled, noise, best=REFIT_MIN_EPOCHS) == REFIT_MIN_EPOCHS


def test_the_floor_rule_takes_confidence_out_of_an_uncalibrated_mixture(imbalanced):
    # the paper's mixture is not calibrated, but its over-confidence alone must not waive the
    # floor: the rule compares losses at each output's best temperature all the same
    X, y_fit = imbalanced
    paper = I2MoEClassifier(
        **{**SMALL, "max_epochs": REFIT_MIN_EPOCHS}, interaction_constraint="loss"
    ).fit(X, y_fit)
    y, skilled, noise = _crafted_outputs()
    train, valid = _held_out(np.repeat([0, 1], 200)), _held_out(y)
    assert paper._refit_epochs(3, train, valid, {3: skilled, 10: 6.0 * skilled}) == 10
    assert paper._refit_epochs(3, train, valid, {3: skilled, 10: noise}) == 3


@pytest.mark.parametrize("weights", [None, "class"])
def test_the_best_constant_output_is_the_weighted_class_rates(searched, weights):
    from sk_i2moe._fit_rules import best_constant

    y = np.random.default_rng(2).choice(3, 300, p=[0.6, 0.3, 0.1])
    w = None if weights is None else np.array([1.0, 2.0, 5.0])[y]
    rates = np.bincount(y, weights=w, minlength=3)
    constant = best_constant(searched.net_.criterion_, _held_out(y, w), 3)
    np.testing.assert_allclose(torch.softmax(constant, 0), rates / rates.sum(), atol=1e-6)


def test_a_weighted_z_counts_the_rows_by_their_weights():
    from sk_i2moe._fit_rules import weighted_z

    values = torch.tensor([1.0, 2.0, 4.0, 5.0, 100.0])
    ones = torch.tensor([1.0, 1.0, 1.0, 1.0, 0.0])  # the last row does not count
    expected = 3.0 / (np.std([1.0, 2.0, 4.0, 5.0], ddof=1) / 2.0)
    assert weighted_z(values, ones) == pytest.approx(expected)
    assert weighted_z(values, 3.0 * ones) == pytest.approx(expected)  # scale-free
    assert weighted_z(values, torch.tensor([0.0, 0.0, 0.0, 0.0, 1.0])) == 0.0  # one row
    assert weighted_z(torch.full((4,), 0.5), torch.ones(4)) == math.inf
    assert weighted_z(torch.zeros(4), torch.ones(4)) == 0.0


def test_a_weighted_z_stays_honest_where_the_weights_go_with_the_values():
    # class weights: the rare class carries the large weights and the noisier losses; with
    # no effect, z > 2 must stay near its nominal rate (Kish's effective size gave 8.5 %)
    from sk_i2moe._fit_rules import weighted_z

    rng = np.random.default_rng(0)
    rare = np.arange(100) < 10
    weights = torch.as_tensor(np.where(rare, 1.0, 1.0 / 9.0))
    hits = 0
    for _ in range(2000):
        values = np.where(rare, rng.normal(scale=3.0, size=100), rng.normal(scale=0.3, size=100))
        hits += weighted_z(torch.as_tensor(values), weights) > 2.0
    assert hits / 2000 < 0.05


def test_the_floor_rule_asks_for_evidence_not_only_a_mean():
    from sk_i2moe._fit_rules import FLOOR_LOSS_Z, floor_loses_skill

    at_constant, at_best = torch.full((12,), 0.7), torch.full((12,), 0.4)
    ones = torch.ones(12)
    # the midpoint is 0.55: a floor at 0.62 on every row is shown above it
    assert floor_loses_skill(at_constant, at_best, torch.full((12,), 0.62), ones)
    # the same mean, carried by two rows: not shown
    lumpy = torch.tensor([0.2] * 10 + [2.6, 2.6])
    assert lumpy.mean() > 0.55 and not floor_loses_skill(at_constant, at_best, lumpy, ones)
    # below the midpoint: the floor keeps more than half the skill
    assert not floor_loses_skill(at_constant, at_best, torch.full((12,), 0.5), ones)
    # no skill at the best epoch: nothing to keep
    assert not floor_loses_skill(at_best, at_constant, torch.full((12,), 2.0), ones)
    # the weights decide: the rows that lose the skill weigh nothing here
    half = torch.tensor([0.5] * 6 + [1.0] * 6)
    weights = torch.tensor([1.0] * 6 + [0.0] * 6)
    assert floor_loses_skill(at_constant, at_best, half, ones)
    assert not floor_loses_skill(at_constant, at_best, half, weights)
    assert FLOOR_LOSS_Z == 2.0  # the docs' number


@pytest.mark.parametrize("loss", ["mse", "smooth_l1"])
def test_a_regressor_waives_the_floor_by_the_same_rule(loss):
    from sk_i2moe import I2MoERegressor
    from sk_i2moe._fit_rules import best_constant

    rng = np.random.default_rng(3)
    X = {"a": rng.normal(size=(120, 3)), "b": rng.normal(size=(120, 2))}
    params = {**SMALL, "max_epochs": REFIT_MIN_EPOCHS, "early_stopping": False}
    reg = I2MoERegressor(**params, loss=loss).fit(X, X["a"][:, 0])
    y_train = rng.normal(loc=2.0, scale=1.0, size=(300, 1)).astype(np.float32)  # as fitted
    weights = rng.uniform(0.5, 2.0, size=300)
    constant = best_constant(reg.net_.criterion_, _held_out(y_train, weights), 1)
    grid = np.linspace(0.0, 4.0, 4001)
    objective = reg.net_.criterion_.weighted_task_loss
    losses = [
        float(
            objective(torch.full((300, 1), v), torch.as_tensor(y_train), torch.as_tensor(weights))
        )
        for v in grid
    ]
    assert float(constant) == pytest.approx(grid[int(np.argmin(losses))], abs=2e-3)
    if loss == "mse":
        assert float(constant) == pytest.approx(
            np.average(y_train[:, 0], weights=weights), abs=1e-6
        )
    y = rng.normal(size=(200, 1)).astype(np.float32)
    train, valid = _held_out(rng.normal(size=(400, 1)).astype(np.float32)), _held_out(y)
    good = torch.as_tensor(y + 0.3 * rng.normal(size=(200, 1))).float()
    noise = torch.as_tensor(rng.normal(size=(200, 1))).float()
    assert reg._refit_epochs(3, train, valid, {3: good, 10: noise}) == 3
    assert reg._refit_epochs(3, train, valid, {3: good, 10: 1.1 * good}) == REFIT_MIN_EPOCHS


def test_a_refit_keeps_a_narrow_modality_that_wide_noise_modalities_would_drown():
    # 3 informative columns beside 500 + 400 noise columns at a few hundred rows: ten epochs
    # fit the noise and the held-out outputs rank no better than chance; the search's best
    # epoch (its third or fourth) has learnt the narrow modality
    rng = np.random.default_rng(0)
    n = 600
    X = {
        "labs": rng.normal(size=(n, 3)),
        "emb": rng.normal(size=(n, 500)),
        "codes": (rng.random((n, 400)) < 0.03).astype(float),
    }
    y = (rng.random(n) < 1 / (1 + np.exp(-3 * X["labs"][:, 0]))).astype(int)
    train = {k: v[:420] for k, v in X.items()}
    test = {k: v[420:] for k, v in X.items()}
    clf = I2MoEClassifier(random_state=0, n_threads=1, n_members=1).fit(train, y[:420])
    assert clf.n_iter_ < REFIT_MIN_EPOCHS
    assert clf.score(test, y[420:]) > 0.75  # the floor's ten epochs: 0.55
