"""The audio-retention sweep as a job (queued daily by ``JobQueue`` and runnable by hand)."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import current_app

from ..db import session
from ..services import retention
from .queue import JobContext, handler

log = logging.getLogger(__name__)


@handler(retention.JOB_KIND)
def sweep_audio(ctx: JobContext) -> None:
    """Run one sweep; a second run finds nothing left to delete."""
    cfg = current_app.config
    policy = retention.Policy.from_config(cfg)
    ctx.progress("sweeping", 10)
    result = retention.sweep(session(), Path(cfg["RECORDINGS_DIR"]), policy)
    log.info("retention sweep (job %s): %s", ctx.job_id, result.summary())
