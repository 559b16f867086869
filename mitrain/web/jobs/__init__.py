"""Generic job status (JSON), polled by the progress component."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from flask_login import current_user

from ...db import session as db_session
from ...models import Job, UserRole
from ..access import found, require, signed_in

bp = Blueprint("jobs", __name__, url_prefix="/jobs")


def can_see_job(job: Job) -> bool:
    """Owners see their own jobs; admins see all."""
    return current_user.role is UserRole.ADMIN or job.owner_id == current_user.id


@bp.route("/<int:job_id>.json")
@signed_in
def status(job_id: int) -> Any:
    job = found(db_session().get(Job, job_id))
    require(can_see_job(job))
    assert job is not None
    return jsonify(job.to_dict())
