"""``mitrain retention``: run the audio-retention sweep by hand (registered by ``mitrain.cli``)."""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def retention() -> None:
    """Audio retention: delete recordings' audio the policy no longer allows keeping."""


@retention.command("run")
@click.option("--dry-run", is_flag=True, help="List what would be deleted; delete nothing.")
def run(dry_run: bool) -> None:
    """Delete expired audio and orphaned files now (the worker also does this daily)."""
    from .cli import _app, _require_migrated
    from .db import session
    from .services import ServiceError
    from .services import retention as service
    app = _app()
    _require_migrated(app)
    with app.app_context():
        try:
            policy = service.Policy.from_config(app.config)
            result = service.sweep(session(), Path(app.config["RECORDINGS_DIR"]), policy,
                                   dry_run=dry_run)
        except ServiceError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(policy.describe())
    for item in result.deleted:
        click.echo(f"  recording {item.recording_id} '{item.title}' ({item.owner}): "
                   f"{item.reason_text}")
    for name in result.orphans:
        click.echo(f"  orphaned file {name}")
    click.echo(result.summary())
