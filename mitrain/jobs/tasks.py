"""Job handlers, one per kind. Each takes ids and is safe to run twice."""

from . import (
    recording,  # noqa: F401
    retention,  # noqa: F401  (retention.sweep)
    retrain,  # noqa: F401  (coder.retrain)
)
