"""Small Sphinx helpers of the sk_i2moe documentation (a local extension).

- :class:`ExampleOrder`: the gallery's reading order (sphinx-gallery's
  ``within_subsection_order``, given by its importable name so the Sphinx
  configuration stays picklable).
- A ``missing-reference`` handler resolving references to an object's
  defining module (``sk_i2moe.nn.custom.VmappedFusion``) to the place the API
  reference documents it (``sk_i2moe.nn.VmappedFusion``).
- A ``missing-reference`` handler for the labels and glossary terms of
  scikit-learn's own documentation that the inherited methods' docstrings
  (``score``, ``get_metadata_routing``, ``set_fit_request``, ...) refer to:
  without intersphinx (offline builds) they link to scikit-learn's site
  directly, or stay plain text, instead of failing the build.
"""

from __future__ import annotations

import os

from docutils import nodes

_SKLEARN_DOCS = "https://scikit-learn.org/stable/"
_SKLEARN_TARGETS = {
    ("ref", "metadata_routing"): "metadata_routing.html",
    ("ref", "accuracy_score"): "modules/model_evaluation.html#accuracy-score",
    ("ref", "r2_score"): "modules/model_evaluation.html#r2-score",
    ("term", "meta-estimator"): "glossary.html#term-meta-estimator",
}


class ExampleOrder:
    """Gallery order: a reader's path from the quickstart to customisation.

    Examples not listed come last, alphabetically.
    """

    ORDER = (
        "plot_quickstart.py",
        "plot_clinical_pipeline.py",
        "plot_interpretation.py",
        "plot_regression_diabetes.py",
        "plot_compare_backbones.py",
        "plot_custom_backbone.py",
    )

    def __init__(self, src_dir: str) -> None:
        self.src_dir = src_dir

    def __call__(self, filename: str) -> tuple[int, str]:
        name = os.path.basename(filename)
        rank = self.ORDER.index(name) if name in self.ORDER else len(self.ORDER)
        return rank, name

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


def _retarget_submodule_references(app, env, node, contnode):
    """Resolve ``sk_i2moe.<a>.<b>.<Name>`` to a documented shorter path.

    Tries dropping intermediate module components (``sk_i2moe.nn.<Name>``,
    then ``sk_i2moe.<Name>``); leaves the node untouched when none resolves.
    """
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    if not target.startswith("sk_i2moe."):
        return None
    parts = target.split(".")
    domain = env.get_domain("py")
    candidates = []
    for keep in (2, 1):
        for start in range(keep + 1, len(parts)):
            candidate = ".".join(parts[:keep] + parts[start:])
            if candidate != target and candidate not in candidates:
                candidates.append(candidate)
    for candidate in candidates:
        node["reftarget"] = candidate
        resolved = domain.resolve_xref(
            env, node["refdoc"], app.builder, node["reftype"], candidate, node, contnode
        )
        if resolved is not None:
            return resolved
    node["reftarget"] = target
    return None


def _sklearn_docstring_references(app, env, node, contnode):
    """Link (or leave as text) references of scikit-learn's inherited docstrings.

    Runs after intersphinx, so it only acts when scikit-learn's inventory is
    unavailable.
    """
    if node.get("refdomain") != "std" or node.get("reftype") not in ("ref", "term"):
        return None
    if "docstring of sklearn." not in (node.source or ""):
        return None
    path = _SKLEARN_TARGETS.get((node["reftype"], node.get("reftarget", "").lower()))
    if path is None:
        return contnode
    reference = nodes.reference("", "", internal=False, refuri=_SKLEARN_DOCS + path)
    reference += contnode
    return reference


def setup(app):
    app.connect("missing-reference", _retarget_submodule_references)
    app.connect("missing-reference", _sklearn_docstring_references)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
