"""WSGI entry point for other servers (gunicorn, uwsgi): ``wsgi:app``."""

from mitrain import create_app

app = create_app()
