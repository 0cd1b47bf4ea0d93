"""Warnings attributed to the caller's line, however deep in the package they are raised."""

from __future__ import annotations

import os
import sys
import warnings
from types import FrameType

#: the package's directory: a frame runs the package's code when its file lies in it (by
#: file, not module name: a doctest's examples run with a package module's globals)
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _inside(frame: FrameType) -> bool:
    """Whether ``frame`` runs the package's code (or scikit-learn's wrapper around ``fit``)."""
    filename = frame.f_code.co_filename  # "<doctest ...>", "<string>": no file of the package
    if not filename.startswith("<") and os.path.abspath(filename).startswith(_PACKAGE_DIR):
        return True
    # scikit-learn's _fit_context decorator wraps the estimators' fit: part of the same call
    module = frame.f_globals.get("__name__", "")
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
