"""Integration against a real PostgreSQL and Redis.

Set MITRAIN_TEST_DATABASE_URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test) and
MITRAIN_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/15); `.ci/run` sets them when the
ports answer. Each run uses its own PostgreSQL schema, dropped afterwards.
"""

import os
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, text, update
from sqlalchemy.orm import Session

from mitrain.db import get_db
from mitrain.jobs import get_queue
from mitrain.migrate import current_revision, head_revision
from mitrain.models import Base, Job, JobStatus, UserRole, utcnow
from mitrain.services import jobs as job_rows

from ..conftest import build_app
from ..factories import make_user
from ..jobs.test_lifecycle import calls

PG_URL = os.environ.get("MITRAIN_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("MITRAIN_TEST_REDIS_URL")
needs_pg = pytest.mark.skipif(not PG_URL, reason="MITRAIN_TEST_DATABASE_URL is not set "
                              "(no PostgreSQL to test against)")
needs_redis = pytest.mark.skipif(not REDIS_URL, reason="MITRAIN_TEST_REDIS_URL is not set "
                                 "(no Redis to test against)")


@pytest.fixture
def pg_url() -> Iterator[str]:
    assert PG_URL
    schema = f"mitrain_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@needs_pg
def test_postgres_migrates_to_head_and_matches_models(pg_url: str, tmp_path: Path) -> None:
    app = build_app(tmp_path, DATABASE_URL=pg_url)
    engine = get_db(app).engine
    assert engine.dialect.name == "postgresql"
    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    engine.dispose()


@needs_pg
def test_login_and_admin_pages_on_postgres(pg_url: str, tmp_path: Path) -> None:
    app = build_app(tmp_path, DATABASE_URL=pg_url)
    with Session(get_db(app).engine, expire_on_commit=False) as db:
        admin = make_user(db, UserRole.ADMIN)
    client = app.test_client()
    assert client.post("/auth/login", data={"email": admin.email,
                                            "password": "correct horse battery staple"}
                       ).status_code == 302
    assert admin.email in client.get("/admin/users").get_data(as_text=True)
    get_db(app).engine.dispose()


@needs_pg
@needs_redis
def test_jobs_on_postgres_and_redis_rerun_expired_lease_once(pg_url: str, tmp_path: Path) -> None:
    app = build_app(tmp_path, DATABASE_URL=pg_url, REDIS_URL=REDIS_URL)
    queue = get_queue(app)
    assert queue.backend == "redis"
    queue.huey.flush()
    calls.clear()
    with app.app_context():
        done_id = queue.submit("test.count", 501)
    assert queue.run_pending() == 1
    with Session(get_db(app).engine, expire_on_commit=False) as db:
        assert db.get(Job, done_id).status is JobStatus.DONE
        job = job_rows.create_job(db, "test.count", 502)
        job_rows.claim(db, job.id, lease_seconds=600)
        db.execute(update(Job).where(Job.id == job.id)
                   .values(lease_until=utcnow() - timedelta(seconds=1)))
        db.commit()
        assert queue.recover() == [job.id]
        assert queue.recover() == [job.id]
        assert queue.run_pending() == 2
        job = db.get(Job, job.id, populate_existing=True)
        assert job.status is JobStatus.DONE and job.attempts == 2
    assert calls[501] == 1 and calls[502] == 1
    queue.huey.flush()
    get_db(app).engine.dispose()
