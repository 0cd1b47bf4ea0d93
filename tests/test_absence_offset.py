"""``absence_offset``: what a missing modality says about the label, outside the experts."""

import numpy as np
import pytest
import torch

from sk_i2moe import I2MoEClassifier, I2MoERegressor, load
from sk_i2moe.inspection import interaction_report
from sk_i2moe.nn import StructuredInteractionMoE
from sk_i2moe.nn.calibration import set_absence_shrinkage
from sk_i2moe.nn.ensemble import mixtures_of
from sk_i2moe.plotting import plot_sample_explanation

from .helpers import rewrite_model_file

TINY = {"hidden_dim": 8, "n_tokens": 2, "random_state": 0, "n_threads": 1}


def _informative_absence(n=240, seed=0):
    """Two classes told apart by ``a``; ``b`` is missing in 60 % of class 1, 10 % of class 0."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    X = {
        "a": rng.normal(size=(n, 3)) + 0.6 * y[:, None],
        "b": rng.normal(size=(n, 2)),
        "c": rng.normal(size=(n, 4)),
    }
    lost = rng.random(n) < np.where(y == 1, 0.6, 0.1)
    X["b"][lost] = np.nan
    return X, y, lost


def test_complete_data_fits_the_same_with_or_without_offsets():
    rng = np.random.default_rng(1)
    X = {"a": rng.normal(size=(80, 3)), "b": rng.normal(size=(80, 2))}
    y = (X["a"][:, 0] + X["b"][:, 1] > 0).astype(int)
    on = I2MoEClassifier(**TINY, max_epochs=3).fit(X, y)
    off = I2MoEClassifier(**TINY, max_epochs=3, absence_offset=False).fit(X, y)
    np.testing.assert_array_equal(on.predict_proba(X), off.predict_proba(X))
    assert on.explain(X).absence_offset is None
    for member in on.net_.module_.members:  # never used, so never trained
        assert torch.count_nonzero(member.absence_logits) == 0
    assert all(m.absence_logits is None for m in off.net_.module_.members)


def test_the_offset_learns_which_class_lacks_the_modality_more_often():
    X, y, lost = _informative_absence()
    clf = I2MoEClassifier(**TINY, max_epochs=20, early_stopping=False).fit(X, y)
    explanation = clf.explain(X)
    offset = explanation.absence_offset[:, 1] - explanation.absence_offset[:, 0]
    assert np.all(offset[~lost] == 0)
    assert np.all(offset[lost] > 0.2)  # class 1 more likely when b is missing
    # without offsets the same rows are scored lower for class 1 (their weights must do it all)
    plain = I2MoEClassifier(**TINY, max_epochs=20, early_stopping=False, absence_offset=False)
    gap = clf.predict_proba(X)[lost, 1].mean() - plain.fit(X, y).predict_proba(X)[lost, 1].mean()
    assert gap > 0.05


@pytest.mark.parametrize("n_members", [1, 3])
def test_the_explanation_adds_up_to_the_output(n_members):
    X, y, lost = _informative_absence(n=120)
    clf = I2MoEClassifier(**TINY, max_epochs=4, n_members=n_members).fit(X, y)
    explanation = clf.explain(X)
    total = explanation.contributions.sum(axis=1) + explanation.absence_offset
    np.testing.assert_allclose(total, explanation.output, atol=1e-5)
    odds = explanation.log_odds()
    np.testing.assert_allclose(
        odds.contributions.sum(axis=1) + odds.absence_offset, odds.output, atol=1e-5
    )
    # without the move towards the constant of what a row lacks (absence_shrinkage_, here too
    # few held-out rows to show one), the offset is the members' mean of each one's
    # per-modality logits, summed over what is absent (over the output temperature)
    set_absence_shrinkage(clf._module(), [0.0] * len(X), torch.zeros(2))
    explanation = clf.explain(X)
    per_member = torch.stack([m.absence_logits for m in mixtures_of(clf.net_.module_)]).mean(0)
    expected = explanation.absent.astype(np.float32) @ per_member.detach().cpu().numpy()
    expected = expected / clf.output_temperature_
    np.testing.assert_allclose(explanation.absence_offset, expected, atol=1e-6)


def test_a_regressor_reports_its_offset_in_target_units():
    X, y, lost = _informative_absence(n=120)
    target = 100.0 + 50.0 * (X["a"][:, 0] + 2.0 * lost)
    reg = I2MoERegressor(**TINY, max_epochs=6, n_members=1).fit(X, target)
    explanation = reg.explain(X)
    total = explanation.contributions.sum(axis=1) + explanation.absence_offset
    np.testing.assert_allclose(total, explanation.output, rtol=1e-5)
    np.testing.assert_allclose(explanation.output[:, 0], reg.predict(X), rtol=1e-5)
    # what the absence adds: the learned offset, and the move towards the constant of the rows
    # lacking b, which the held-out rows ask for here
    assert reg.absence_shrinkage_["b"] > 0
    set_absence_shrinkage(reg._module(), [0.0] * len(X), torch.zeros(1))
    explanation = reg.explain(X)
    logits = reg.net_.module_.absence_logits.detach().cpu().numpy()
    np.testing.assert_allclose(explanation.absence_offset[lost][0], logits[1] * reg._y_scale)


def test_a_modality_made_missing_in_the_objective_adds_no_offset():
    model = StructuredInteractionMoE([3, 2], n_outputs=2, hidden_dim=8).train()
    with torch.no_grad():
        model.absence_logits.copy_(torch.tensor([[0.0, 0.0], [2.0, -2.0]]))
    xs = [torch.randn(4, 3), torch.randn(4, 2)]
    present = torch.tensor([[True, True], [True, False], [True, True], [True, True]])
    torch.manual_seed(0)  # the same dropout masks in both passes
    out = model(xs, present)
    model.absence_logits.data.zero_()
    torch.manual_seed(0)
    plain = model(xs, present)
    shift = torch.tensor([[0.0, 0.0], [2.0, -2.0], [0.0, 0.0], [0.0, 0.0]])
    torch.testing.assert_close(out.logits - plain.logits, shift)
    torch.testing.assert_close(
        out.missing_logits - plain.missing_logits, shift[:, None].expand(4, 2, 2)
    )


def test_offsets_are_trained_with_the_weights():
    model = StructuredInteractionMoE([3, 2], n_outputs=2, hidden_dim=8)
    assert any(p is model.absence_logits for p in model.reweighting_parameters())
    without = StructuredInteractionMoE([3, 2], n_outputs=2, hidden_dim=8, absence_offset=False)
    assert without.absence_logits is None and without.absence_offsets(None) is None


def test_offsets_round_trip_and_older_files_have_none(tmp_path):
    X, y, _ = _informative_absence(n=120)
    clf = I2MoEClassifier(**TINY, max_epochs=4, n_members=2).fit(X, y)
    path = tmp_path / "model.i2moe"
    clf.save(path)
    restored = load(path)
    assert restored.absence_offset is True
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))

    plain = I2MoEClassifier(**TINY, max_epochs=4, n_members=2, absence_offset=False).fit(X, y)
    plain.save(path)
    # as a file written before the parameter
    rewrite_model_file(path, lambda document, tensors: document["params"].pop("absence_offset"))
    older = load(path)
    assert older.absence_offset is False
    np.testing.assert_array_equal(older.predict_proba(X), plain.predict_proba(X))


def test_the_sample_plot_says_what_the_absence_adds():
    pytest.importorskip("matplotlib")
    X, y, lost = _informative_absence(n=120)
    clf = I2MoEClassifier(**TINY, max_epochs=4, n_members=1).fit(X, y)
    fig = plot_sample_explanation(clf.explain(X), int(np.flatnonzero(lost)[0]))
    assert "their absence adds" in fig._suptitle.get_text()
    fig = plot_sample_explanation(clf.explain(X), int(np.flatnonzero(~lost)[0]))
    assert "absent" not in fig._suptitle.get_text()


def test_the_parameter_is_validated():
    X, y, _ = _informative_absence(n=60)
    with pytest.raises(ValueError, match="absence_offset"):
        I2MoEClassifier(**TINY, absence_offset="yes").fit(X, y)


def test_the_report_says_how_much_the_absence_itself_predicts():
    X, y, lost = _informative_absence(n=400, seed=2)
    train, test = np.arange(300), np.arange(300, 400)
    clf = I2MoEClassifier(**TINY, max_epochs=20, early_stopping=False, n_members=1)
    clf.fit({k: v[train] for k, v in X.items()}, y[train])
    report = interaction_report(clf, {k: v[test] for k, v in X.items()}, y[test])
    absence = report.absence
    assert absence["n_samples"] == lost[test].sum()
    # the incomplete samples are mostly class 1, which only the offsets know
    assert absence["skill"] > absence["skill_without_offsets"] + 0.02
    text = report.summary()  # (below chance either way on these few rows: said so)
    assert (
        "rest in part on the fact that a modality is missing" in text
        or "no better than chance (counting it improves them by" in text
    )
    complete = {k: np.nan_to_num(v[test]) for k, v in X.items()}
    plain = interaction_report(clf, complete, y[test])
    assert plain.absence is None and "the absence itself" not in plain.summary()


def test_a_modality_missing_more_often_in_one_class_earns_its_expert_no_skill():
    # b is noise; the samples that have it are mostly class 0, so a constant fitted on them
    # beats the overall class rates: the report's chance level for an expert is the best
    # constant on the samples it is scored on, and b's expert must not look informative
    X, y, lost = _informative_absence(n=400, seed=2)
    train, test = np.arange(300), np.arange(300, 400)
    clf = I2MoEClassifier(**TINY, max_epochs=20, early_stopping=False, n_members=1)
    clf.fit({k: v[train] for k, v in X.items()}, y[train])
    row = interaction_report(clf, {k: v[test] for k, v in X.items()}, y[test]).table.loc[
        "uniqueness[b]"
    ]
    assert row.n_usable == (~lost[test]).sum()
    assert row.skill_low < 0 < row.skill_high and not row.supported


def test_a_modality_dropped_in_training_adds_no_offset():
    model = StructuredInteractionMoE([3, 2], n_outputs=2, hidden_dim=8).train()
    with torch.no_grad():
        model.absence_logits.copy_(torch.tensor([[1.0, -1.0], [2.0, -2.0]]))
    xs = [torch.randn(3, 3), torch.randn(3, 2)]
    measured = torch.tensor([[True, True], [True, False], [True, True]])
    dropped = torch.tensor([[False, True], [True, False], [True, True]])  # row 0 lost a by chance
    torch.manual_seed(0)
    out = model(xs, dropped, measured=measured)
    torch.manual_seed(0)
    plain = model(xs, dropped)  # without measured the dropped modality counts as absent
    torch.testing.assert_close(out.logits[1:], plain.logits[1:])
    torch.testing.assert_close(out.logits[0] - plain.logits[0], torch.tensor([-1.0, 1.0]))


@pytest.mark.parametrize("n_members", [1, 2])
def test_modality_dropout_leaves_the_offsets_to_the_real_absences(n_members):
    X, y, lost = _informative_absence()
    sizes = {}
    for dropout in (0.0, 0.5):
        clf = I2MoEClassifier(
            **TINY,
            max_epochs=20,
            early_stopping=False,
            n_members=n_members,
            modality_dropout=dropout,
        ).fit(X, y)
        offsets = clf.explain(X).absence_offset
        sizes[dropout] = float(np.mean(offsets[lost, 1] - offsets[lost, 0]))
    # diluted by the random drops the offset would shrink towards 0
    assert sizes[0.5] > 0.93 * sizes[0.0] > 0  # 0.76-0.84 when the drops counted
