"""Job handler: retrain the MITI coder from signed-off reviews (``coder.retrain``).

The job's subject is a ``coder_trainings`` row; running it twice is safe
(a finished run is left alone).
"""

from __future__ import annotations

from flask import current_app

from ..db import session as db_session
from ..services.retraining import retrain_settings, run_retrain
from .queue import JobContext, handler


@handler("coder.retrain")
def retrain_coder(ctx: JobContext) -> None:
    if ctx.subject_id is None:
        from .queue import PermanentError
        raise PermanentError("A retraining job needs the id of its training run.")
    settings = retrain_settings(current_app.config, current_app.instance_path)
    ctx.progress("exporting reviewed recordings", 2)
    run_retrain(db_session(), ctx.subject_id, progress=ctx.progress, **settings)
