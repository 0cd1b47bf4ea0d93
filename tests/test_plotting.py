import doctest
import sys

import numpy as np
import pandas as pd
import pytest

import sk_i2moe.plotting as plotting
from sk_i2moe.inspection import Explanation
from sk_i2moe.plotting import (
    plot_expert_scores,
    plot_interaction_weights,
    plot_sample_explanation,
)

NAMES = ["uniqueness[a]", "uniqueness[b]", "uniqueness[c]", "synergy", "redundancy"]


@pytest.fixture
def plt():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


def _explanation(n=40, n_outputs=2, task="classification", seed=0):
    rng = np.random.default_rng(seed)
    weights = rng.dirichlet(np.arange(1, len(NAMES) + 1), size=n)
    outputs = rng.normal(size=(n, len(NAMES), n_outputs))
    return Explanation(
        weights=weights,
        expert_outputs=outputs,
        output=(weights[:, :, None] * outputs).sum(axis=1),
        expert_names=list(NAMES),
        output_names=[f"class{k}" for k in range(n_outputs)],
        task=task,
    )


def _tick_labels(labels):
    return [t.get_text() for t in labels]


def test_import_error_without_matplotlib(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r'pip install "sk-i2moe\[plot\]"'):
        plot_interaction_weights(_explanation())


# -- plot_interaction_weights -----------------------------------------------
def test_violin_structure(plt):
    from matplotlib.collections import LineCollection, PolyCollection

    exp = _explanation()
    ax = plot_interaction_weights(exp)
    bodies = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(bodies) == len(NAMES)
    medians = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert len(medians) == 1 and len(medians[0].get_segments()) == len(NAMES)
    # Each median segment sits at that expert's median weight.
    heights = sorted(seg[0, 1] for seg in medians[0].get_segments())
    np.testing.assert_allclose(heights, sorted(np.median(exp.weights, axis=0)))
    assert _tick_labels(ax.get_xticklabels()) == NAMES
    assert ax.get_ylabel() == "interaction weight"
    assert ax.get_title() == "Interaction weights over 40 samples"
    # the uniform-weight reference line
    assert any(np.allclose(line.get_ydata(), 1 / len(NAMES)) for line in ax.get_lines())


def test_box_structure(plt):
    exp = _explanation()
    ax = plot_interaction_weights(exp, kind="box")
    assert _tick_labels(ax.get_xticklabels()) == NAMES
    # 7 artists per box (box, 2 whiskers, 2 caps, median, fliers) + the uniform line
    assert len(ax.get_lines()) == 7 * len(NAMES) + 1
    medians = ax.get_lines()[5 : 7 * len(NAMES) : 7]
    np.testing.assert_allclose([m.get_ydata()[0] for m in medians], np.median(exp.weights, axis=0))


def test_weights_plot_on_given_axes_and_degenerate_data(plt):
    fig, ax = plt.subplots()
    exp = _explanation(n=1)
    assert plot_interaction_weights(exp, ax=ax) is ax
    constant = Explanation(
        np.full((10, 2), 0.5), np.zeros((10, 2, 1)), np.zeros((10, 1)), ["s", "r"], ["y"]
    )
    ax = plot_interaction_weights(constant)
    assert _tick_labels(ax.get_xticklabels()) == ["s", "r"]


def test_weights_plot_errors(plt):
    with pytest.raises(ValueError, match="kind must be 'violin' or 'box'"):
        plot_interaction_weights(_explanation(), kind="bar")
    with pytest.raises(TypeError, match="Explanation"):
        plot_interaction_weights(np.ones((3, 2)))
    # a NaN weight was left out of the violin and the box without a word
    exp = _explanation()
    weights = exp.weights.copy()
    weights[2, 1] = np.nan
    holed = Explanation(weights, exp.expert_outputs, exp.output, exp.expert_names, exp.output_names)
    for plot in (plot_interaction_weights, lambda e: plot_sample_explanation(e, 2)):
        with pytest.raises(ValueError, match=r"1 NaN or infinite value\(s\) \(e.g. in sample 2\)"):
            plot(holed)
    plot_sample_explanation(holed, 0)  # another sample's weights are finite: it is drawn


# -- plot_sample_explanation ------------------------------------------------
def test_sample_explanation_structure(plt):
    exp = _explanation()
    fig = plot_sample_explanation(exp, 3)
    axes = fig.axes
    assert len(axes) == 3
    assert [ax.get_title() for ax in axes] == [
        "Expert output",
        "Interaction weight",
        "Contribution",
    ]
    assert _tick_labels(axes[0].get_yticklabels()) == NAMES
    k = int(np.argmax(exp.output[3]))  # default: the predicted class
    row = exp.output[3]
    p = np.exp(row[k]) / np.exp(row).sum()
    assert fig.get_suptitle() == (
        f"Sample 3: logit of class 'class{k}' (predicted probability {p:.2f})"
    )
    widths = [[p.get_width() for p in ax.patches] for ax in axes]
    assert all(len(w) == len(NAMES) for w in widths)
    np.testing.assert_allclose(widths[0], exp.expert_outputs[3, :, k])
    np.testing.assert_allclose(widths[1], exp.weights[3])
    np.testing.assert_allclose(widths[2], exp.contributions[3, :, k])
    # the contributions add up to the mixture output, drawn as a line
    totals = [line.get_xdata()[0] for line in axes[2].get_lines()]
    assert exp.output[3, k] == pytest.approx(totals[-1])
    assert axes[0].get_xlabel() == f"logit of class 'class{k}'"
    assert axes[2].get_xlabel() == "weight x output"


def test_an_expert_no_sample_can_use_is_an_empty_slot_said_to_be_one(plt):
    # an empty slot without a word, and matplotlib's error with the figure left open when
    # no expert was usable (audit helper-62 D6)
    exp = _explanation()
    usable = np.ones(exp.weights.shape, dtype=bool)
    usable[:, 1] = False
    ax = plot_interaction_weights(Explanation(**{**vars(exp), "usable": usable}))
    notes = [t for t in ax.texts if t.get_text() == "no sample has\nits modalities"]
    assert len(notes) == 1 and notes[0].get_position()[0] == 2  # the second expert's slot
    before = plt.get_fignums()
    with pytest.raises(ValueError, match="No sample can use any expert"):
        plot_interaction_weights(Explanation(**{**vars(exp), "usable": usable & False}))
    assert plt.get_fignums() == before
    # the first expert empty: its slot shown whole (the note hung off the axes; review X3),
    # and per group where one group only lacks it (an empty slot without a note; X2)
    first = np.ones(exp.weights.shape, dtype=bool)
    first[:20, 0] = False
    groups = np.repeat(["lacking", "having"], 20)
    ax = plot_interaction_weights(Explanation(**{**vars(exp), "usable": first}), by=groups)
    assert ax.get_xlim() == (0.5, len(NAMES) + 0.5)
    assert [t.get_text() for t in ax.texts] == ["n = 0"]
    # a group that can use no expert gets notes, not matplotlib's error
    none_first = np.ones(exp.weights.shape, dtype=bool)
    none_first[:20] = False
    ax = plot_interaction_weights(Explanation(**{**vars(exp), "usable": none_first}), by=groups)
    assert [t.get_text() for t in ax.texts] == ["n = 0"] * len(NAMES)
    # a list of bools is taken as the array it holds (review X5)
    listed = Explanation(**{**vars(exp), "usable": usable.tolist()})
    assert isinstance(listed.usable, np.ndarray) and plot_interaction_weights(listed)


def test_an_ensembles_contribution_axis_says_it_is_the_members_mean(plt):
    # labelled "weight x output", which the members' mean of it is not (audit helper-62 D1)
    rng = np.random.default_rng(0)
    member_weights = rng.dirichlet(np.ones(len(NAMES)), size=(10, 2))
    member_outputs = rng.normal(size=(10, 2, len(NAMES), 2))
    exp = Explanation(
        weights=member_weights.mean(1),
        expert_outputs=member_outputs.mean(1),
        output=(member_weights[..., None] * member_outputs).sum(2).mean(1),
        expert_names=list(NAMES),
        output_names=["class0", "class1"],
        task="classification",
        member_weights=member_weights,
        member_outputs=member_outputs,
    )
    axes = plot_sample_explanation(exp, 0).axes
    assert axes[2].get_xlabel() == "members' mean of weight x output"


def test_sample_explanation_output_choice(plt):
    exp = _explanation(n_outputs=3)
    fig = plot_sample_explanation(exp, -1, output="class2")
    assert fig.get_suptitle().startswith(
        f"Sample {len(exp.weights) - 1}: logit of class 'class2' (predicted probability 0."
    )
    np.testing.assert_allclose(
        [p.get_width() for p in fig.axes[0].patches], exp.expert_outputs[-1, :, 2]
    )
    fig = plot_sample_explanation(exp, 0, output=1)
    assert "'class1' (predicted probability" in fig.get_suptitle()
    # A regressor's default is its first output, whatever the values.
    reg = _explanation(n_outputs=3, task="regression")
    fig = plot_sample_explanation(reg, 0)
    assert fig.get_suptitle() == "Sample 0: output 'class0'"


def test_sample_explanation_on_given_axes(plt):
    fig, axes = plt.subplots(3, 1)
    assert plot_sample_explanation(_explanation(), 0, axes=axes) is fig
    with pytest.raises(ValueError, match="exactly 3"):
        plot_sample_explanation(_explanation(), 0, axes=axes[:2])


def test_sample_explanation_errors(plt):
    exp = _explanation()
    with pytest.raises(IndexError, match="out of range"):
        plot_sample_explanation(exp, 40)
    for not_a_position in (2.5, True):
        with pytest.raises(TypeError, match="index must be an integer position"):
            plot_sample_explanation(exp, not_a_position)
    # a patient id, which to_frame() and the title show, is answered with its position
    from dataclasses import replace

    named = replace(exp, sample_ids=np.array([f"pt-{i:03d}" for i in range(40)], dtype=object))
    with pytest.raises(TypeError, match=r"Sample 'pt-007' is at position 7: plot_sample_"):
        plot_sample_explanation(named, "pt-007")
    with pytest.raises(ValueError, match="neither an output name"):
        plot_sample_explanation(exp, 0, output="dog")
    with pytest.raises(ValueError, match="neither an output name"):
        plot_sample_explanation(exp, 0, output=5)


# -- plot_expert_scores -----------------------------------------------------
def _scores(with_mixture=True):
    values = [0.55, 0.6, 0.5, 0.8, 0.7]
    index = list(NAMES)
    if with_mixture:
        values.append(0.85)
        index.append("mixture")
    frame = pd.DataFrame({"score": values, "mean_weight": 1.0}, index=index)
    frame.attrs["metric"] = "accuracy"
    return frame


def test_expert_scores_plot_structure(plt):
    scores = _scores()
    ax = plot_expert_scores(scores)
    bars = ax.patches
    assert len(bars) == len(NAMES) + 1
    np.testing.assert_allclose([b.get_height() for b in bars], scores["score"])
    assert _tick_labels(ax.get_xticklabels()) == [*NAMES, "mixture"]
    # the mixture bar is highlighted and its score drawn across the plot
    assert bars[-1].get_facecolor() != bars[0].get_facecolor()
    assert bars[-1].get_hatch() == "//"
    assert any(np.allclose(line.get_ydata(), 0.85) for line in ax.get_lines())
    assert ax.get_ylabel() == "accuracy"
    assert ax.get_title() == "Score of each expert alone vs the mixture"
    # values written on the bars
    assert "0.85" in [t.get_text() for t in ax.texts]


def test_expert_scores_plot_without_mixture_and_r2(plt):
    scores = _scores(with_mixture=False)
    scores.loc["synergy", "score"] = -0.4
    scores.attrs["metric"] = "r2"
    fig, ax = plt.subplots()
    assert plot_expert_scores(scores, ax=ax) is ax
    assert len(ax.patches) == len(NAMES)
    assert ax.get_lines() == []
    assert ax.get_ylabel() == "R$^2$"
    assert ax.get_ylim()[0] < -0.4


def test_expert_scores_plot_errors(plt):
    with pytest.raises(ValueError, match="non-empty DataFrame"):
        plot_expert_scores(pd.DataFrame())
    with pytest.raises(ValueError, match="'score' column"):
        plot_expert_scores(pd.DataFrame({"a": [1.0], "b": [2.0]}))


# -- end to end and doctests --------------------------------------------------
def test_plots_from_a_fitted_classifier(plt):
    from sk_i2moe import I2MoEClassifier
    from sk_i2moe.datasets import make_interaction_classification
    from sk_i2moe.inspection import expert_scores

    X, y, _ = make_interaction_classification("synergy", n_samples=80, random_state=0)
    clf = I2MoEClassifier(max_epochs=2, hidden_dim=8, n_tokens=2, random_state=0).fit(X, y)
    exp = clf.explain(X)
    ax = plot_interaction_weights(exp)
    assert _tick_labels(ax.get_xticklabels()) == clf.expert_names_
    fig = plot_sample_explanation(exp, 0)
    predicted = clf.predict({k: v[:1] for k, v in X.items()})[0]
    proba = clf.predict_proba({k: v[:1] for k, v in X.items()}).max()
    assert fig.get_suptitle().endswith(f"'{predicted}' (predicted probability {proba:.2f})")
    # on the log-odds of the positive class: contributions add up to the mixture's log-odds
    odds = exp.log_odds()
    fig = plot_sample_explanation(odds, 0)
    p1 = clf.predict_proba({k: v[:1] for k, v in X.items()})[0, 1]
    assert fig.get_suptitle() == (
        f"Sample 0: log-odds({clf.classes_[1]}) (predicted probability {p1:.2f})"
    )
    np.testing.assert_allclose(odds.contributions[0, :, 0].sum(), np.log(p1 / (1 - p1)), atol=1e-5)
    ax = plot_expert_scores(expert_scores(clf, X, y))
    assert len(ax.patches) == len(clf.expert_names_) + 1


def test_a_multi_label_explanation_shows_each_labels_own_probability(plt):
    from sk_i2moe import I2MoEClassifier

    rng = np.random.default_rng(0)
    X = {"a": rng.normal(size=(60, 3)), "b": rng.normal(size=(60, 2))}
    Y = np.c_[X["a"][:, 0] > 0, X["b"][:, 0] > 0].astype(int)  # two labels, not two classes
    clf = I2MoEClassifier(max_epochs=2, hidden_dim=8, n_tokens=2, random_state=0).fit(X, Y)
    exp = clf.explain(X)
    assert exp.task == "multilabel"
    proba = clf.predict_proba(X)[0]
    for k in range(2):
        title = plot_sample_explanation(exp, 0, output=k).get_suptitle()
        assert title == f"Sample 0: log-odds of label '{k}' (predicted probability {proba[k]:.2f})"
    with pytest.raises(ValueError, match="outputs are already each label's log-odds"):
        exp.log_odds()


def test_docstring_examples_run_with_matplotlib(plt):
    """The module's doctests skip drawing lines without matplotlib; run them all here."""
    runner = doctest.DocTestRunner(
        optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS, verbose=False
    )
    tests = doctest.DocTestFinder().find(plotting)
    assert sum(len(t.examples) for t in tests) > 10
    for test in tests:
        for example in test.examples:
            example.options.pop(doctest.SKIP, None)
        runner.run(test)
    assert runner.failures == 0


@pytest.mark.parametrize("n_experts", [3, 9])
def test_no_label_is_cut_off_without_a_tight_bbox(plt, n_experts):
    names = [f"uniqueness[a_long_modality_name_{i}]" for i in range(n_experts - 2)]
    names += ["synergy", "redundancy"]
    rng = np.random.default_rng(0)
    weights = rng.dirichlet(np.ones(n_experts), size=20)
    outputs = rng.normal(size=(20, n_experts, 2))
    exp = Explanation(
        weights,
        outputs,
        (weights[:, :, None] * outputs).sum(1),
        names,
        ["no", "yes"],
        task="classification",
    )
    scores = pd.DataFrame(
        {"score": rng.random(n_experts + 1), "mean_weight": np.append(weights.mean(0), 1.0)},
        index=pd.Index([*names, "mixture"], name="expert"),
    )
    scores.attrs["metric"] = "accuracy"
    figures = [
        plot_interaction_weights(exp).figure,
        plot_expert_scores(scores).figure,
        plot_sample_explanation(exp, 0),
    ]
    for fig in figures:
        fig.canvas.draw()
        drawn = fig.get_tightbbox(fig.canvas.get_renderer())  # inches, what is drawn
        page = fig.bbox_inches
        assert drawn.x0 >= page.x0 - 0.01 and drawn.x1 <= page.x1 + 0.01, drawn
        assert drawn.y0 >= page.y0 - 0.01 and drawn.y1 <= page.y1 + 0.01, drawn


@pytest.mark.parametrize("kind", ["violin", "box"])
def test_weights_split_by_group_and_drawn_with_a_report(plt, kind):
    from sk_i2moe import I2MoEClassifier
    from sk_i2moe.datasets import make_interaction_classification
    from sk_i2moe.inspection import interaction_report

    X, y, _ = make_interaction_classification("redundancy", n_samples=120, random_state=0)
    clf = I2MoEClassifier(max_epochs=2, hidden_dim=8, n_tokens=2, random_state=0).fit(X, y)
    exp = clf.explain(X)
    groups = np.where(y == 1, "benign", "malignant")
    report = interaction_report(clf, X, y, n_bootstrap=50)
    ax = plot_interaction_weights(exp, kind=kind, by=groups, report=report)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[:2] == ["benign", "malignant"]  # sorted, not in first-seen order
    assert legend[-1].startswith("report: mean weight, 95% interval")
    bars = [c for c in ax.containers if hasattr(c, "has_yerr") and c.has_yerr]
    assert len(bars) == 1
    np.testing.assert_allclose(bars[0].lines[0].get_ydata(), report.table.mean_weight)
    assert _tick_labels(ax.get_xticklabels()) == clf.expert_names_
    with pytest.raises(ValueError, match="one label per sample"):
        plot_interaction_weights(exp, by=groups[:-1])
    other = interaction_report(
        I2MoEClassifier(max_epochs=1, hidden_dim=8, experts="synergy_redundancy").fit(X, y),
        X,
        y,
        n_bootstrap=20,
    )
    with pytest.raises(ValueError, match="pass the report of the same estimator"):
        plot_interaction_weights(exp, report=other)


@pytest.mark.parametrize("metric, label", [("roc_auc", "roc_auc"), (None, "score")])
def test_expert_scores_plot_names_any_metric(plt, metric, label):
    scores = _scores(with_mixture=True)
    scores.attrs.pop("metric", None)
    if metric is not None:
        scores.attrs["metric"] = metric
    fig, ax = plt.subplots()
    assert plot_expert_scores(scores, ax=ax).get_ylabel() == label


def test_sample_explanation_legend_tells_large_outputs_apart(plt):
    exp = _explanation(n=2, n_outputs=1, task="regression")
    outputs = exp.expert_outputs + np.array([0.0, 64.0])[:, None, None] + 1e9
    exp = Explanation(
        weights=exp.weights,
        expert_outputs=outputs,
        output=(exp.weights[:, :, None] * outputs).sum(axis=1),
        expert_names=list(NAMES),
        output_names=["y"],
        task="regression",
    )
    legends = [
        plot_sample_explanation(exp, i).axes[2].get_legend().get_texts()[0].get_text()
        for i in range(2)
    ]
    assert legends[0] != legends[1]
    assert legends[0].startswith("output = 1,000,000,0")
    small = plot_sample_explanation(_explanation(), 0).axes[2].get_legend().get_texts()[0]
    assert len(small.get_text()) <= len("output = -0.123")


def test_an_explanation_whose_names_do_not_match_its_arrays_is_refused():
    weights, outputs = np.full((4, 3), 1 / 3), np.zeros((4, 3, 2))
    with pytest.raises(ValueError, match="2 expert_names and 2 output_names do not match"):
        Explanation(weights, outputs, np.zeros((4, 2)), ["a", "b"], ["no", "yes"])
    with pytest.raises(ValueError, match="3 expert_names and 1 output_names do not match"):
        Explanation(weights, outputs, np.zeros((4, 2)), ["a", "b", "c"], ["no"])
    with pytest.raises(ValueError, match=r"weights must be \(n_samples, n_experts\)"):
        Explanation(np.ones(3), outputs, np.zeros((4, 2)), ["a", "b", "c"], ["no", "yes"])


def test_weights_plot_groups_missing_labels_and_refuses_what_it_cannot_draw(plt):
    exp = _explanation(n=6)
    before = plt.get_fignums()
    ax = plot_interaction_weights(exp, by=[np.nan, np.nan, "a", "a", None, "b"])
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts[:3] == ["a", "b", "nan"]  # NaN and None both missing: one group, last
    plt.close(ax.figure)
    empty = Explanation(np.zeros((0, 5)), np.zeros((0, 5, 2)), np.zeros((0, 2)), NAMES, ["a", "b"])
    with pytest.raises(ValueError, match="no samples"):
        plot_interaction_weights(empty)
    with pytest.raises(TypeError, match="result of sk_i2moe.inspection.interaction_report"):
        plot_interaction_weights(exp, report="x")
    with pytest.raises(TypeError, match="Expected matplotlib Axes to draw on; got str"):
        plot_interaction_weights(exp, ax="x")
    with pytest.raises(TypeError, match="Expected matplotlib Axes"):
        plot_sample_explanation(exp, 0, axes=[1, 2, 3])
    with pytest.raises(TypeError, match="Expected matplotlib Axes"):
        plot_expert_scores(pd.DataFrame({"score": [0.5]}, index=["synergy"]), ax="x")
    assert plt.get_fignums() == before  # refused before a figure was made


def test_sample_explanation_output_must_be_a_name_or_an_integer(plt):
    exp = _explanation()
    for bad in (True, 1.0):
        with pytest.raises(TypeError, match="output must be an output name"):
            plot_sample_explanation(exp, 0, output=bad)
    fig = plot_sample_explanation(exp, 0, output=np.int64(1))
    assert "class1" in fig.get_suptitle()


def test_an_integer_sample_id_given_as_the_index_is_pointed_to_its_position(plt):
    # "index 1005 is out of range for 40 samples" without the hint string ids got (D8)
    exp = Explanation(**{**vars(_explanation()), "sample_ids": np.arange(1000, 1040)})
    with pytest.raises(IndexError, match=r"Sample 1005 is at position 5: plot_sample_expl"):
        plot_sample_explanation(exp, 1005)
    with pytest.raises(IndexError, match=r"for 40 samples\.$"):
        plot_sample_explanation(exp, 2000)


def test_an_integer_output_is_a_position_never_a_label(plt):
    # classes [1, 2, 3]: output=1 drew class 2 (a position) but output=3 class 3 (a label)
    exp = _explanation(n_outputs=3)
    exp = Explanation(**{**vars(exp), "output_names": ["1", "2", "3"]})
    assert "'2'" in plot_sample_explanation(exp, 0, output=1).get_suptitle()
    with pytest.raises(ValueError, match=r"position in \[0, 2\]\. .*output='3'"):
        plot_sample_explanation(exp, 0, output=3)
    assert "'3'" in plot_sample_explanation(exp, 0, output="3").get_suptitle()


def test_expert_scores_plot_refuses_infinite_or_repeated_scores(plt):
    before = plt.get_fignums()
    with pytest.raises(ValueError, match=r"\['synergy'\] are infinite"):
        plot_expert_scores(pd.DataFrame({"score": [-np.inf, 0.9]}, index=["synergy", "mixture"]))
    with pytest.raises(ValueError, match="Every score is NaN"):
        plot_expert_scores(pd.DataFrame({"score": [np.nan, np.nan]}, index=["synergy", "mixture"]))
    repeated = pd.DataFrame([[0.5, 0.6]], columns=["score", "score"], index=["synergy"])
    with pytest.raises(ValueError, match="several columns named 'score'"):
        plot_expert_scores(repeated)
    assert plt.get_fignums() == before


def test_an_undefined_score_is_marked_and_text_scores_are_named(plt):
    # a NaN score left a silently empty slot; text gave numpy's bare conversion error
    # (audit helper-62 D7)
    frame = pd.DataFrame({"score": [0.6, np.nan, 0.7]}, index=["a", "synergy", "mixture"])
    ax = plot_expert_scores(frame)
    marks = [t for t in ax.texts if t.get_text() == "undefined"]
    assert len(marks) == 1 and marks[0].get_position() == (2, 0.02)  # the axes' foot (X4)
    negative = frame.assign(score=[-0.6, np.nan, -0.7])
    ax = plot_expert_scores(negative)
    assert [t.get_position()[1] for t in ax.texts if t.get_text() == "undefined"] == [0.02]
    before = plt.get_fignums()
    with pytest.raises(ValueError, match="column 'score' must hold numbers"):
        plot_expert_scores(pd.DataFrame({"score": ["a", "b"]}, index=["x", "mixture"]))
    assert plt.get_fignums() == before


def test_many_groups_stay_readable(plt):
    # ten classes drew a 26-inch figure with the legend over the data, in first-seen order,
    # and an eleventh group took the first one's colour
    exp = _explanation(n=60)
    labels = np.array([9, 3, 0, 1, 2, 4, 5, 6, 7, 8, 10, 11] * 5)
    ax = plot_interaction_weights(exp, by=labels)
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts[:12] == [str(k) for k in range(12)]
    assert ax.figure.get_size_inches()[0] <= 16
    colours = [tuple(h.get_facecolor()) for h in ax.get_legend().legend_handles[:12]]
    assert len(set(colours)) == 12
    assert ax.get_legend().get_bbox_to_anchor().x0 > ax.get_window_extent().x1 - 1
    mixed = plot_interaction_weights(exp, by=np.array([1, "a"] * 30, dtype=object))
    assert [t.get_text() for t in mixed.get_legend().get_texts()][:2] == ["1", "a"]
    # an integer column with gaps (floats and NaN): sorted, the missing group last
    gaps = plot_interaction_weights(exp, by=np.array([3.0, np.nan, 1.0, 2.0, 0.0] * 12))
    texts = [t.get_text() for t in gaps.get_legend().get_texts()][:5]
    assert texts == ["0.0", "1.0", "2.0", "3.0", "nan"]
    # a categorical keeps its categories' order (qcut's low < mid < high)
    tertiles = pd.Categorical(["high", "low", "mid"] * 20, categories=["low", "mid", "high"])
    ordered = plot_interaction_weights(exp, by=tertiles)
    assert [t.get_text() for t in ordered.get_legend().get_texts()][:3] == ["low", "mid", "high"]
    # twenty groups: the legend in columns, within the figure's height (it squashed the plot)
    twenty = plot_interaction_weights(exp, by=np.arange(60) % 20)
    twenty.figure.canvas.draw()
    box = twenty.get_legend().get_window_extent(twenty.figure.canvas.get_renderer())
    assert box.height <= twenty.figure.bbox.height
    # on the caller's axes the legend stays inside them (beside would leave the figure)
    _, given = plt.subplots()
    inside = plot_interaction_weights(exp, by=labels, ax=given)
    given.figure.canvas.draw()
    renderer = given.figure.canvas.get_renderer()
    legend_box = inside.get_legend().get_window_extent(renderer)
    assert legend_box.x1 <= given.get_window_extent(renderer).x1 + 1
