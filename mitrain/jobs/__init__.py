"""Background jobs: Huey queue (SQLite by default, Redis at scale), handlers, recovery."""

from .queue import JobQueue, get_queue, handler

__all__ = ["JobQueue", "get_queue", "handler"]
