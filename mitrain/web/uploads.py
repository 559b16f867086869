"""Helpers shared by the upload routes (role-play recordings, spoken drill answers)."""

from __future__ import annotations

from flask import request

INTERRUPTED = "The upload was interrupted before it finished. Nothing was saved; please try again."


def body_cut_short() -> bool:
    """True when the request promised a body but no form field arrived.

    Werkzeug drops a multipart body that ends before its Content-Length (a
    cut-off upload) silently, leaving an empty form rather than raising.
    """
    return (request.content_length or 0) > 0 and not request.form and not request.files
