"""What a service refuses, in words the API maps to HTTP statuses."""


class NotFoundError(LookupError):
    """No such object in the caller's project (another project's objects look the same)."""


class ConflictError(RuntimeError):
    """The request contradicts the object's state (finished run, reused Idempotency-Key)."""
