"""``mitrain coder retrain``: retrain the coder from signed-off reviews, in the foreground."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command("retrain")
@click.option("--holdout", type=click.FloatRange(0.05, 0.9), default=0.25, show_default=True,
              help="Share of reviewed recordings held out (grouped by recording) to compare "
                   "the candidate with the current coder.")
@click.option("--annomi", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="An AnnoMI CSV to train on as well (default: the "
                                 "MITRAIN_ANNOMI_CSV setting, if set).")
@click.option("--corpus", type=click.Path(exists=True, path_type=Path), default=None,
              help="Project corpus file or directory (default: coding/data).")
def retrain(holdout: float, annomi: Path | None, corpus: Path | None) -> None:
    """Train a candidate on the project corpus + signed-off reviews (+ AnnoMI), and promote it
    only if it is not worse than the current coder on held-out reviewed recordings."""
    from . import create_app
    from .db import get_db
    from .services import ServiceError
    from .services.retraining import request_retrain, retrain_settings, run_retrain

    app = create_app()
    with app.app_context():
        db = get_db(app).session()
        settings = retrain_settings(app.config, app.instance_path)
        if annomi is not None:
            settings["annomi_csv"] = annomi
        if corpus is not None:
            settings["corpus_dir"] = corpus
        run = request_retrain(db, None)

        def progress(stage: str, pct: int) -> None:
            click.echo(f"[{pct:3d}%] {stage}", err=True)

        try:
            run = run_retrain(db, run.id, holdout=holdout, progress=progress, **settings)
        except ServiceError as exc:
            click.echo(str(exc), err=True)
            sys.exit(1)
        r = run.report
        click.echo(f"candidate {r['candidate_version']} vs current {r['baseline_version'] or 'none'}")
        for name in ("candidate", "baseline"):
            m = r.get(name)
            if m:
                click.echo(f"  {name:9s} κ={m['kappa']} accuracy={m['accuracy']} "
                           f"macro-F1={m['macro_f1']} on {m['n']} held-out utterances")
        click.echo(("PROMOTED: " if r["promoted"] else "not promoted: ") + r["reason"])
