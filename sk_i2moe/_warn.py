"""Warnings attributed to the caller's line, however deep in the package they are raised."""

from __future__ import annotations

import sys
import warnings
from types import FrameType

_PACKAGE = __name__.rpartition(".")[0]


def _inside(frame: FrameType) -> bool:
    """Whether ``frame`` runs the package's code (or scikit-learn's wrapper around ``fit``)."""
    module = frame.f_globals.get("__name__", "")
    if module == _PACKAGE or module.startswith(_PACKAGE + "."):
        return True
    # scikit-learn's _fit_context decorator wraps the estimators' fit: part of the same call
    return module == "sklearn.base" and frame.f_code.co_name == "wrapper"


def warn(message: str, category: type[Warning] = UserWarning) -> None:
    """Issue a warning attributed to the first frame outside the package.

    A fixed ``stacklevel`` points at the caller only from one call depth;
    the same check runs under ``fit``, ``predict``, ``predict_proba`` and
    ``explain`` at different depths. The first frame outside the package is
    the user's line (or the scikit-learn tool that called the estimator), so
    that warning filters by module and Python's once-per-location rule work.

    Parameters
    ----------
    message : str
        The warning's text.
    category : type of Warning, default=UserWarning
        Its class.
    """
    frame = sys._getframe(1)  # the function that warns, at stacklevel 2 from here
    level = 2
    while frame is not None and _inside(frame):
        frame = frame.f_back
        level += 1
    warnings.warn(message, category, stacklevel=level)
