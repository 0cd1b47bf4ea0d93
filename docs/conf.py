"""Sphinx configuration of the sk_i2moe documentation.

Build from the repository root with::

    sphinx-build -W --keep-going -b html docs docs/_build/html

(``.ci/docs.sh`` does exactly that and prints the elapsed time). The build
needs no network: intersphinx links to scikit-learn, skorch, PyTorch, NumPy,
pandas, matplotlib and Python are added only for the inventories that can be
fetched (or were fetched by an earlier build and cached under
``docs/_build/intersphinx``); set ``SK_I2MOE_DOCS_OFFLINE=1`` to skip the
network altogether. Missing inventories only leave those references
unlinked, never a warning.
"""

from __future__ import annotations

import os
import sys
import time
import urllib.request
import warnings
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
# document (and run the gallery against) this checkout, installed or not
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(DOCS / "sphinxext"))  # the local extension sk_i2moe_docs

import sk_i2moe  # noqa: E402

# -- project ------------------------------------------------------------------
project = "sk_i2moe"
author = "sk_i2moe developers"
copyright = "sk_i2moe developers, BSD-3-Clause"
version = release = sk_i2moe.__version__

# -- extensions ---------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "sk_i2moe_docs",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "generated/backreferences", "**.ipynb_checkpoints"]
root_doc = "index"
default_role = "literal"  # `text` renders as code rather than warning
add_module_names = False
pygments_style = "sphinx"

# -- autodoc / autosummary / numpydoc -----------------------------------------
autosummary_generate = True
autosummary_imported_members = False
autodoc_typehints = "none"  # the numpydoc sections already give the types
autodoc_default_options = {"member-order": "bysource"}
autodoc_inherit_docstrings = True
# autosummary already lists the members; numpydoc must not list them again
# (that is what produces duplicate-object warnings)
numpydoc_show_class_members = False
numpydoc_show_inherited_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False

# -- intersphinx (optional, offline-safe) -------------------------------------
_INVENTORIES = {
    "python": "https://docs.python.org/3/",
    "numpy": "https://numpy.org/doc/stable/",
    "pandas": "https://pandas.pydata.org/docs/",
    "sklearn": "https://scikit-learn.org/stable/",
    "skorch": "https://skorch.readthedocs.io/en/stable/",
    "torch": "https://docs.pytorch.org/docs/stable/",
    "matplotlib": "https://matplotlib.org/stable/",
    "joblib": "https://joblib.readthedocs.io/en/stable/",
}
_CACHE = DOCS / "_build" / "intersphinx"
_CACHE_MAX_AGE_S = 7 * 24 * 3600


def _fetch_inventory(name: str, url: str, timeout: float = 3.0) -> str | None:
    """Path of a local copy of ``url``'s ``objects.inv``, or None when there is none.

    A cached copy younger than a week is used as is; otherwise the inventory
    is downloaded (short timeout) and cached. Without network the stale copy,
    if any, is still used. Only valid zlib-compressed version-2 inventories
    are kept, so a captive portal's HTML page never reaches intersphinx.
    """
    path = _CACHE / f"{name}.inv"
    fresh = path.exists() and time.time() - path.stat().st_mtime < _CACHE_MAX_AGE_S
    if fresh or os.environ.get("SK_I2MOE_DOCS_OFFLINE"):
        return str(path) if path.exists() else None
    try:
        request = urllib.request.Request(
            url + "objects.inv", headers={"User-Agent": "sk_i2moe-docs"}
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            data = response.read()
        if not data.startswith(b"# Sphinx inventory version 2"):
            raise ValueError("not a Sphinx inventory")
        _CACHE.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    except Exception:  # offline, DNS failure, timeout, bad content: no link, no warning
        pass
    return str(path) if path.exists() else None


intersphinx_mapping = {}
for _name, _url in _INVENTORIES.items():
    _inventory = _fetch_inventory(_name, _url)
    if _inventory is not None:
        intersphinx_mapping[_name] = (_url, _inventory)
intersphinx_timeout = 5


# -- sphinx-gallery -------------------------------------------------------------
# The gallery runs every examples/plot_*.py at build time; examples/demo.py is
# the README demo, not a gallery example.
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"[\\/]plot_",
    "ignore_pattern": r"^(demo|__init__)\.py$",
    "within_subsection_order": "sk_i2moe_docs.ExampleOrder",
    "doc_module": ("sk_i2moe",),
    "backreferences_dir": "generated/backreferences",
    "download_all_examples": False,
    "remove_config_comments": True,
    "image_scrapers": ("matplotlib",),
    "reset_modules": ("matplotlib",),
    "min_reported_time": 1,
    "matplotlib_animations": False,
    # examples run two at a time (joblib's loky workers), each with one torch thread (below)
    "parallel": int(os.environ.get("SK_I2MOE_DOCS_JOBS", "2")),
}


# The gallery's models are tiny: one torch thread is the fastest setting, and
# several threads on a shared machine can be 10-100 times slower. Set
# SK_I2MOE_DOCS_THREADS to change it; the parallel gallery's worker processes
# take it from OMP_NUM_THREADS, which torch reads when it is imported there.
import torch  # noqa: E402

_DOCS_THREADS = os.environ.get("SK_I2MOE_DOCS_THREADS", "1")
torch.set_num_threads(int(_DOCS_THREADS))
os.environ["OMP_NUM_THREADS"] = _DOCS_THREADS

# Non-interactive backend for the examples' plt.show(), and no GUI warnings.
os.environ.setdefault("MPLBACKEND", "Agg")
warnings.filterwarnings("ignore", message="Matplotlib is currently using agg", category=UserWarning)
warnings.filterwarnings(
    "ignore", message="FigureCanvasAgg is non-interactive", category=UserWarning
)

# -- HTML ---------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"sk_i2moe {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_show_sourcelink = False
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 6,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_sidebars = {"index": [], "install": []}
html_context = {"default_mode": "light"}
