"""Job handlers, one per kind. Each takes ids and is safe to run twice."""

from . import recording  # noqa: F401
from . import retrain  # noqa: E402,F401  (coder.retrain)
from . import retention  # noqa: E402,F401  (retention.sweep)
