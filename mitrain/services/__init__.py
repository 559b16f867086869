"""Domain operations. With jobs, the only code that commits."""


class ServiceError(Exception):
    """A problem the user can fix; the message is shown as it is."""
