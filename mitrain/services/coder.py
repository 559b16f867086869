"""The MITI coder as the web app and jobs use it: loaded once per process, lazily."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from flask import current_app

if TYPE_CHECKING:
    from coding.coder import MitiCoder


def model_dir() -> Path:
    return Path(current_app.config["MODEL_DIR"])


def get_coder() -> MitiCoder:
    """The current coder version (trained from the project corpus on first use)."""
    # Imported here: routes and app start-up never pay for spaCy/scikit-learn.
    from coding.coder import load_coder
    return load_coder(model_dir())
