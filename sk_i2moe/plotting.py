"""Matplotlib figures for interpreting a fitted I2MoE estimator.

Matplotlib is an optional dependency (``pip install "sk-i2moe[plot]"``); it
is imported when a plotting function is called, so importing this module
never needs it. (The doctest lines that draw are marked ``+SKIP`` so the
suite passes without matplotlib; ``tests/test_plotting.py`` runs them when
matplotlib is installed.)

- :func:`plot_interaction_weights`: distribution of each expert's weight
  over a data set (global interpretation);
- :func:`plot_sample_explanation`: one sample's expert outputs, weights and
  contributions (local interpretation);
- :func:`plot_expert_scores`: each expert's own score against the mixture's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .inspection import Explanation

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_expert_scores", "plot_interaction_weights", "plot_sample_explanation"]

_MIXTURE = "mixture"
#: widest figure (inches) that plot_interaction_weights makes itself, however many groups
MAX_WIDTH = 16.0
#: legend entries per column beside a figure's axes (what its 4-inch height holds)
LEGEND_ROWS = 12


def _pyplot() -> Any:
    """Import :mod:`matplotlib.pyplot`, or say how to install it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as err:  # pragma: no cover - exercised without matplotlib
        raise ImportError(
            "sk_i2moe.plotting needs matplotlib, which is not installed. Install it with "
            '`pip install "sk-i2moe[plot]"` (or `pip install matplotlib`).'
        ) from err
    return plt


def _check_explanation(explanation: object) -> Explanation:
    if not isinstance(explanation, Explanation):
        raise TypeError(
            "expected an sk_i2moe.inspection.Explanation, as returned by estimator.explain(X); "
            f"got {type(explanation).__name__}."
        )
    return explanation


def _same_id(sample_id: object, wanted: object) -> bool:
    """Whether a sample id equals ``wanted`` (ids of any type; no array comparisons)."""
    try:
        return bool(sample_id == wanted)
    except (TypeError, ValueError):
        return False


def _position_hint(explanation: Explanation, wanted: object) -> str:
    """Where the sample whose id is ``wanted`` is, for an error message ("" if no id is)."""
    ids = explanation.sample_ids
    found = [] if ids is None else [i for i, v in enumerate(ids) if _same_id(v, wanted)]
    if not found:
        return ""
    shown = wanted.item() if isinstance(wanted, np.generic) else wanted
    return (
        f" Sample {shown!r} is at position {found[0]}: plot_sample_explanation(explanation, "
        f"{found[0]})."
    )


def _check_finite_weights(explanation: Explanation, row: int | None = None) -> None:
    """Refuse NaN or infinite weights (of ``row`` only, if given): a plot would drop them."""
    weights = np.asarray(explanation.weights, dtype=np.float64)
    positions = np.arange(len(weights)) if row is None else np.array([row])
    bad = ~np.isfinite(weights[positions])
    if bad.any():
        first = positions[bad.any(axis=1)][0]
        ids = explanation.sample_ids
        sample = f"{first}" if ids is None else f"{first} ({ids[first]!r})"
        raise ValueError(
            f"The explanation's weights hold {int(bad.sum())} NaN or infinite value(s) (e.g. "
            f"in sample {sample}); an estimator's explain gives finite weights (0 for an "
            "expert a sample cannot use). Fix them first."
        )


def _label_experts(ax: Axes, names: list[str], axis: str = "x") -> None:
    positions = np.arange(1, len(names) + 1)
    if axis == "x":
        ax.set_xticks(positions)
        rotate = max(len(n) for n in names) * len(names) > 60
        ax.set_xticklabels(names, rotation=30 if rotate else 0, ha="right" if rotate else "center")
    else:
        ax.set_yticks(positions)
        ax.set_yticklabels(names)


def plot_interaction_weights(
    explanation: Explanation,
    ax: Axes | None = None,
    kind: str = "violin",
    by: object = None,
    report: object = None,
) -> Axes:
    """Distribution of every expert's interaction weight over the samples.

    The global view of the I2MoE paper: one violin (or box) per expert, the
    median marked, and a dotted line at the uniform weight ``1 / n_experts``;
    optionally split by a grouping of the samples, and with the mean weights
    and intervals of an interaction report. Each expert is drawn over the
    samples that can use it; a slot with none (its modality absent from
    every sample, or from every sample of a group) carries a note instead.

    Parameters
    ----------
    explanation : Explanation
        From ``estimator.explain(X)`` or :func:`sk_i2moe.inspection.explain`.
    ax : matplotlib Axes, default=None
        Where to draw; a new figure is made when None (at most
        ``MAX_WIDTH``, 16 inches, wide).
    kind : {"violin", "box"}, default="violin"
        Violin plot (kernel density, median as a line) or box plot (median,
        quartiles, whiskers at 1.5 IQR).
    by : array-like of shape (n_samples,), default=None
        A group label per sample (the predicted class, a cohort, a site):
        one violin or box per group and expert, side by side, with a
        legend (beside the axes of a figure this makes); groups in the
        order of a categorical's categories, else sorted where the labels
        compare (else as first seen), missing labels (None, NaN) one group,
        last. None draws all samples together.
    report : InteractionReport, default=None
        From :func:`~sk_i2moe.inspection.interaction_report`: its mean
        weight per expert is drawn as a black dot with its bootstrap
        interval.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on; ticks are the expert names.

    Raises
    ------
    ValueError
        For an unknown ``kind``, a ``by`` of another length than the samples,
        a ``report`` about other experts, weights that are not finite, or
        samples none of which can use any expert.
    ImportError
        If matplotlib is not installed.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_i2moe.inspection import Explanation
    >>> from sk_i2moe.plotting import plot_interaction_weights
    >>> rng = np.random.default_rng(0)
    >>> weights = rng.dirichlet([4.0, 1.0, 1.0], size=50)
    >>> exp = Explanation(weights, np.zeros((50, 3, 1)), np.zeros((50, 1)),
    ...                   ["uniqueness[a]", "synergy", "redundancy"], ["y"])
    >>> ax = plot_interaction_weights(exp, kind="box", by=rng.integers(0, 2, 50))  # doctest: +SKIP
    >>> [t.get_text() for t in ax.get_xticklabels()]  # doctest: +SKIP
    ['uniqueness[a]', 'synergy', 'redundancy']
    """
    explanation = _check_explanation(explanation)
    _check_finite_weights(explanation)
    if kind not in ("violin", "box"):
        raise ValueError(f"kind must be 'violin' or 'box'; got {kind!r}.")
    weights = np.asarray(explanation.weights, dtype=np.float64)
    n_samples, n_experts = weights.shape
    if n_samples == 0:
        raise ValueError("The explanation has no samples to plot.")
    groups = _groups(by, n_samples)
    names = list(explanation.expert_names)
    if report is not None:
        _check_report(report, names)
    usable = np.ones_like(weights, dtype=bool) if explanation.usable is None else explanation.usable
    if not usable.any():
        raise ValueError(
            "No sample can use any expert (explanation.usable is False everywhere): there is "
            "no weight to draw. Explain samples that have at least one modality."
        )
    plt = _pyplot()
    from matplotlib import colormaps  # matplotlib is there: _pyplot() imported it
    from matplotlib.patches import Patch

    own_figure = ax is None
    if own_figure:
        width = (1.3 + 0.5 * (len(groups) - 1)) * n_experts + 2.5
        _, ax = plt.subplots(figsize=(min(width, MAX_WIDTH), 4), layout="constrained")
    else:
        _check_axes(ax)
    positions = np.arange(1, n_experts + 1)
    step = 0.8 / len(groups)
    handles = []
    for g, (label, rows) in enumerate(groups):
        at = positions + (g - (len(groups) - 1) / 2) * step
        # each expert over the samples that could use it (all, unless modalities are absent)
        columns = [weights[rows, e][usable[rows, e]] for e in range(n_experts)]
        drawn = [e for e, c in enumerate(columns) if c.size]
        for e in sorted(set(range(n_experts)) - set(drawn)):  # an empty slot, said to be one
            ax.text(
                at[e],
                0.5,
                "no sample has\nits modalities" if len(groups) == 1 else "n = 0",
                ha="center",
                va="center",
                fontsize="small",
                color="0.4",
                rotation=0 if len(groups) == 1 else 90,
            )
        at, columns = at[drawn], [columns[e] for e in drawn]
        color = _group_colour(g, len(groups), colormaps)
        if drawn and kind == "violin":
            # A kernel density needs spread: give constant columns a negligible one.
            spread = [
                np.repeat(c, 2) + np.array([-1e-6, 1e-6])
                if c.size == 1
                else c
                if np.ptp(c) > 0
                else c + np.linspace(-1e-6, 1e-6, c.size)
                for c in columns
            ]
            parts = ax.violinplot(
                spread, positions=at, widths=0.9 * step, showmedians=True, showextrema=False
            )
            for body in parts["bodies"]:
                body.set_facecolor(color)
                body.set_alpha(0.6)
        elif drawn:
            ax.boxplot(
                columns,
                positions=at,
                widths=0.6 * step,
                patch_artist=by is not None,
                boxprops={"facecolor": color} if by is not None else None,
            )
        if label is not None:
            handles.append(Patch(color=color, alpha=0.6, label=label))
    ax.set_xlim(0.5, n_experts + 0.5)  # every slot shown, an empty first or last one too
    uniform = ax.axhline(
        1.0 / n_experts, color="0.5", linestyle=":", linewidth=1, label="uniform 1/E"
    )
    handles.append(uniform)
    if report is not None:
        handles.append(_draw_report(ax, report, names, positions))
    _label_experts(ax, names)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("expert")
    ax.set_ylabel("interaction weight")
    title = f"Interaction weights over {n_samples} samples"
    if not usable.all():
        title += "\n(each expert over the samples that have the modalities it needs)"
    ax.set_title(title)
    if by is None or not own_figure:
        ax.legend(handles=handles, loc="upper right", frameon=False)
    else:  # beside the axes of its own figure (one entry per group would cover the data),
        # in as many columns as keep it within the figure's height
        ax.legend(
            handles=handles,
            loc="upper left",
            bbox_to_anchor=(1.01, 1),
            frameon=False,
            ncols=-(-len(handles) // LEGEND_ROWS),
        )
    return ax


def _groups(by: object, n_samples: int) -> list[tuple[str | None, np.ndarray]]:
    """``[(label, rows)]``: one group of every sample, or one per value of ``by``."""
    if by is None:
        return [(None, np.arange(n_samples))]
    labels = np.asarray(by)
    if labels.shape != (n_samples,):
        raise ValueError(
            f"by must hold one label per sample ({n_samples}); got shape {labels.shape}."
        )
    series = pd.Series(by if isinstance(by, (pd.Series, pd.Categorical)) else labels)
    missing = series.isna().to_numpy()
    if isinstance(series.dtype, pd.CategoricalDtype):  # its categories' order (low, mid, high)
        values = [c for c in series.cat.categories if (series == c).any()]
    else:  # sorted where the labels compare (classes 0, 1, ..., 9), else first-seen
        values = list(pd.unique(series[~missing]))
        try:
            values = sorted(values)
        except TypeError:  # labels of types that do not compare
            pass
    groups = [(str(v), np.flatnonzero((series == v).to_numpy() & ~missing)) for v in values]
    if missing.any():  # None, NaN, pd.NA: one group, last
        groups.append((str(series[missing].iloc[0]), np.flatnonzero(missing)))
    return groups


def _group_colour(g: int, n_groups: int, colormaps: object) -> object:
    """Group ``g``'s colour: the default cycle up to 10 groups, ``tab20`` to 20, then viridis."""
    if n_groups <= 10:
        return f"C{g}"
    if n_groups <= 20:
        return colormaps["tab20"](g)
    return colormaps["viridis"](g / (n_groups - 1))


def _check_axes(*axes: object) -> None:
    """Refuse anything but matplotlib Axes where the caller passes where to draw."""
    from matplotlib.axes import Axes as AxesType

    wrong = [type(ax).__name__ for ax in axes if not isinstance(ax, AxesType)]
    if wrong:
        raise TypeError(f"Expected matplotlib Axes to draw on; got {', '.join(wrong)}.")


def _check_report(report: object, names: list[str]) -> None:
    """Refuse a report that is not an interaction report about these experts."""
    table = getattr(report, "table", None)
    if not isinstance(table, pd.DataFrame) or not {
        "mean_weight",
        "weight_low",
        "weight_high",
    } <= set(table.columns):
        raise TypeError(
            "report must be the result of sk_i2moe.inspection.interaction_report; got "
            f"{type(report).__name__}."
        )
    if list(table.index) != names:
        raise ValueError(
            f"The report is about experts {list(table.index)}, the explanation about {names}; "
            "pass the report of the same estimator."
        )


def _draw_report(ax: Axes, report: object, names: list[str], positions: np.ndarray) -> Any:
    """The report's mean weights with their intervals, on the experts' positions."""
    table = report.table
    mean = table["mean_weight"].to_numpy()
    errors = [mean - table["weight_low"].to_numpy(), table["weight_high"].to_numpy() - mean]
    return ax.errorbar(
        positions,
        mean,
        yerr=errors,
        fmt="o",
        color="black",
        capsize=4,
        zorder=5,
        label=f"report: mean weight, {100 * report.confidence:g}% interval",
    )


def _default_output(explanation: Explanation, index: int) -> int:
    n_outputs = explanation.output.shape[1]
    if n_outputs == 1 or explanation.task == "regression":
        return 0
    # Classification (or unknown): the predicted class, largest mixture logit.
    return int(np.argmax(explanation.output[index]))


def _resolve_output(explanation: Explanation, index: int, output: object) -> int:
    names = [str(n) for n in explanation.output_names]
    n_outputs = explanation.output.shape[1]
    if output is None:
        return _default_output(explanation, index)
    if isinstance(output, (str, bool, np.bool_)) and str(output) in names:
        return names.index(str(output))
    if isinstance(output, (bool, np.bool_, float, np.floating)):
        raise TypeError(
            f"output must be an output name {names} or an integer position; got {output!r}."
        )
    if isinstance(output, str) or output not in range(-n_outputs, n_outputs):
        # an integer is a position, never a label: 1 of classes [1, 2, 3] is class 2
        named = (
            f" For the output named {str(output)!r}, give the name as a string: "
            f"output={str(output)!r}."
            if not isinstance(output, str) and str(output) in names
            else ""
        )
        raise ValueError(
            f"output={output!r} is neither an output name {names} nor a position in "
            f"[0, {n_outputs - 1}].{named}"
        )
    return int(output) % n_outputs


def plot_sample_explanation(
    explanation: Explanation,
    index: int,
    output: int | str | None = None,
    axes: Any = None,
) -> Figure:
    """How one sample's prediction is composed from the experts.

    Three panels share the expert axis: each expert's output for the sample
    (a logit for classifiers), its interaction weight, and its contribution
    (:attr:`~sk_i2moe.inspection.Explanation.contributions`: ``weight *
    output``, for an ensemble the members' mean of it); the contributions add
    up to the mixture output (plus what the sample's absent modalities add,
    :attr:`~sk_i2moe.inspection.Explanation.absence_offset`), drawn as a
    vertical line in the last panel. The title names the modalities the
    sample lacked, if any, and what their absence adds.

    Parameters
    ----------
    explanation : Explanation
        From ``estimator.explain(X)``.
    index : int
        Row of the sample in ``X`` (negative counts from the end).
    output : int or str, default=None
        Which output to show when there are several: a position or an output
        name (a class label as a string, e.g. ``"1"``; an integer is always a
        position). None picks the
        predicted class (largest mixture logit) for a classifier, the most
        likely label for a multi-label classifier, and the first output for a
        regressor (``explanation.task == "regression"``; when the task is
        unknown, the largest output).
    axes : sequence of 3 matplotlib Axes, default=None
        Where to draw; a new 1 x 3 figure is made when None.

    Returns
    -------
    matplotlib.figure.Figure
        The figure holding the three panels (``figure.axes``).

    Raises
    ------
    IndexError
        If ``index`` is out of range.
    TypeError
        If ``index`` is not an integer (a bool or a float is refused).
    ValueError
        For an unknown ``output``, not exactly three ``axes``, or weights of
        the sample that are not finite.
    ImportError
        If matplotlib is not installed.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_i2moe.inspection import Explanation
    >>> from sk_i2moe.plotting import plot_sample_explanation
    >>> outputs = np.array([[[2.0, -1.0], [0.5, 0.0]]])
    >>> weights = np.array([[0.75, 0.25]])
    >>> exp = Explanation(weights, outputs, (weights[:, :, None] * outputs).sum(1),
    ...                   ["synergy", "redundancy"], ["no", "yes"], task="classification")
    >>> fig = plot_sample_explanation(exp, 0)  # doctest: +SKIP
    >>> [ax.get_title() for ax in fig.axes]  # doctest: +SKIP
    ['Expert output', 'Interaction weight', 'Contribution']
    >>> fig.get_suptitle()  # doctest: +SKIP
    "Sample 0: logit of class 'no' (predicted probability 0.91)"
    """
    explanation = _check_explanation(explanation)
    n_samples = explanation.weights.shape[0]
    if isinstance(index, (bool, np.bool_)) or not isinstance(index, (int, np.integer)):
        hint = _position_hint(explanation, index)
        raise TypeError(f"index must be an integer position; got {index!r}.{hint}")
    if not -n_samples <= index < n_samples:  # a sample id given for a position, perhaps
        hint = _position_hint(explanation, int(index))
        raise IndexError(f"index {index} is out of range for {n_samples} samples.{hint}")
    index = int(index) % n_samples
    _check_finite_weights(explanation, index)
    k = _resolve_output(explanation, index, output)
    plt = _pyplot()
    if axes is None:
        n_experts = len(explanation.expert_names)
        fig, axes = plt.subplots(
            1, 3, figsize=(11, 0.45 * n_experts + 2), sharey=True, layout="constrained"
        )
    axes = np.asarray(axes, dtype=object).ravel()
    if axes.size != 3:
        raise ValueError(f"axes must hold exactly 3 matplotlib Axes; got {axes.size}.")
    _check_axes(*axes)
    fig = axes[0].figure

    names = list(explanation.expert_names)
    positions = np.arange(1, len(names) + 1)
    values = np.asarray(explanation.expert_outputs[index, :, k], dtype=np.float64)
    weights = np.asarray(explanation.weights[index], dtype=np.float64)
    contributions = np.asarray(explanation.contributions[index, :, k], dtype=np.float64)
    total = float(explanation.output[index, k])
    output_name = str(explanation.output_names[k])
    row = np.asarray(explanation.output[index], dtype=np.float64)
    if explanation.task == "classification":
        quantity = f"logit of class '{output_name}'"
        probability = np.exp(row[k] - row.max()) / np.exp(row - row.max()).sum()
    elif explanation.task == "log_odds":
        quantity = output_name
        probability = 1.0 / (1.0 + np.exp(-row[k]))
    elif explanation.task == "multilabel":  # one sigmoid per label
        quantity = f"log-odds of label '{output_name}'"
        probability = 1.0 / (1.0 + np.exp(-row[k]))
    else:
        quantity = f"output '{output_name}'"
        probability = None
    colors = np.where(contributions >= 0, "tab:blue", "tab:red")

    ensemble = explanation.member_weights is not None
    panels = [
        (values, "Expert output", quantity, "tab:gray"),
        (weights, "Interaction weight", "weight", "tab:green"),
        (
            contributions,
            "Contribution",
            "members' mean of weight x output" if ensemble else "weight x output",
            colors,
        ),
    ]
    for ax, (data, title, xlabel, color) in zip(axes, panels):
        ax.barh(positions, data, color=color, height=0.6)
        ax.axvline(0.0, color="black", linewidth=0.8)
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        _label_experts(ax, names, axis="y")
    for ax in axes:  # first expert on top (shared axes flip together)
        if not ax.yaxis_inverted():
            ax.invert_yaxis()
    axes[1].set_xlim(0.0, max(1.0, float(weights.max())) * 1.02)
    axes[2].axvline(
        total, color="black", linestyle="--", linewidth=1.2, label=f"output = {_readable(total)}"
    )
    axes[2].margins(x=0.12)
    axes[2].legend(loc="best", frameon=False)
    label = index if explanation.sample_ids is None else explanation.sample_ids[index]
    predicted = "" if probability is None else f" (predicted probability {probability:.2f})"
    lacking = explanation.absent_names()[index]
    offset = 0.0 if explanation.absence_offset is None else explanation.absence_offset[index, k]
    shift = f"; their absence adds {offset:+.3g}" if offset != 0 else ""
    absent = f"\nabsent: {lacking} (its experts get weight 0{shift})" if lacking else ""
    fig.suptitle(f"Sample {label}: {quantity}{predicted}{absent}")
    return fig


def _readable(value: float) -> str:
    """Three significant digits, or every digit before the point for large values.

    ``1e+09`` would read the same for every sample of a target around a
    billion; ``1,000,000,064.0`` tells them apart.
    """
    return f"{value:.3g}" if abs(value) < 1e3 else f"{value:,.1f}"


def plot_expert_scores(scores_frame: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Each expert's own score next to the mixture's.

    One bar per expert, in the frame's order; the ``"mixture"`` row, when
    present, is a distinct (orange, hatched) bar, last in
    :func:`~sk_i2moe.inspection.expert_scores`' output, and a dashed
    horizontal line across the plot, so experts that reach it alone stand
    out. Bars carry their values; an undefined (NaN) score has no bar and
    is marked "undefined".

    Parameters
    ----------
    scores_frame : DataFrame
        As returned by :func:`sk_i2moe.inspection.expert_scores`: indexed by
        expert name (optionally with a ``"mixture"`` row), with a ``score``
        column (or a single column). ``scores_frame.attrs["metric"]`` names
        the y axis when present.
    ax : matplotlib Axes, default=None
        Where to draw; a new figure is made when None.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on; ticks are the row names.

    Raises
    ------
    ValueError
        If the frame is empty or has no ``score`` column (and not exactly one
        column), or its scores are infinite or all NaN.
    ImportError
        If matplotlib is not installed.

    Examples
    --------
    >>> import pandas as pd
    >>> from sk_i2moe.plotting import plot_expert_scores
    >>> frame = pd.DataFrame({"score": [0.6, 0.9, 0.93]},
    ...                      index=["synergy", "redundancy", "mixture"])
    >>> ax = plot_expert_scores(frame)  # doctest: +SKIP
    >>> len(ax.patches), ax.get_ylabel()  # doctest: +SKIP
    (3, 'score')
    """
    if not isinstance(scores_frame, pd.DataFrame) or scores_frame.empty:
        raise ValueError("scores_frame must be a non-empty DataFrame from expert_scores().")
    if "score" in scores_frame.columns:
        scores = scores_frame["score"]
    elif scores_frame.shape[1] == 1:
        scores = scores_frame.iloc[:, 0]
    else:
        raise ValueError(
            "scores_frame needs a 'score' column (as from expert_scores()); got columns "
            f"{list(scores_frame.columns)}."
        )
    if isinstance(scores, pd.DataFrame):
        raise ValueError("scores_frame has several columns named 'score'; keep one.")
    try:
        values = scores.to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"scores_frame's column {scores.name!r} must hold numbers (as from "
            f"expert_scores()); got dtype {scores.dtype} ({err})."
        ) from err
    infinite = [str(n) for n in scores.index[np.isinf(values)]]
    if infinite:
        raise ValueError(
            f"The scores of {infinite[:5]} are infinite, which no bar can show; use a bounded "
            "metric (e.g. scoring='roc_auc' or 'accuracy')."
        )
    if np.isnan(values).all():
        raise ValueError(
            "Every score is NaN, so there is nothing to draw: the metric is undefined on "
            "these data (e.g. ROC-AUC where y holds one class). Score on data with every "
            "class, or with another metric."
        )
    plt = _pyplot()
    names = [str(n) for n in scores.index]
    is_mixture = np.array([n == _MIXTURE for n in names])
    if ax is None:
        _, ax = plt.subplots(figsize=(1.2 * len(names) + 2.5, 4), layout="constrained")
    else:
        _check_axes(ax)
    positions = np.arange(1, len(names) + 1)
    experts = ax.bar(positions[~is_mixture], values[~is_mixture], width=0.6, color="tab:blue")
    ax.bar_label(experts, fmt="%.2f", fontsize=8, padding=2)
    for at in positions[np.isnan(values)]:  # no bar: say why the slot is empty
        ax.text(  # at the foot of the axes, whatever the scores' range
            at,
            0.02,
            "undefined",
            ha="center",
            va="bottom",
            fontsize=8,
            color="0.4",
            transform=ax.get_xaxis_transform(),
        )
    if is_mixture.any():
        mixture_value = float(values[is_mixture][0])
        mixture = ax.bar(
            positions[is_mixture],
            values[is_mixture],
            width=0.6,
            color="tab:orange",
            edgecolor="black",
            hatch="//",
        )
        ax.bar_label(mixture, fmt="%.2f", fontsize=8, padding=2)
        ax.axhline(
            mixture_value,
            color="tab:orange",
            linestyle="--",
            linewidth=1.2,
            label=f"mixture = {mixture_value:.3f}",
        )
        ax.legend(loc="best", frameon=False)
    _label_experts(ax, names)
    metric = scores_frame.attrs.get("metric")
    ax.set_ylabel({"r2": "R$^2$"}.get(metric, metric or "score"))
    ax.set_xlabel("expert")
    ax.set_title("Score of each expert alone vs the mixture")
    if np.all(values >= 0):
        ax.set_ylim(0.0, max(1.0, float(values.max())) * 1.08)
    return ax
