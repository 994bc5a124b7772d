"""One error tree. Services raise these; the app renders them as JSON or HTML in one place."""

from __future__ import annotations


class LeadrankError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, details: object | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(LeadrankError):
    status_code = 404
    code = "not_found"


class Unauthorized(LeadrankError):
    status_code = 401
    code = "unauthorized"


class Forbidden(LeadrankError):
    status_code = 403
    code = "forbidden"


class Conflict(LeadrankError):
    status_code = 409
    code = "conflict"


class InvalidInput(LeadrankError):
    status_code = 422
    code = "invalid_input"


class LimitExceeded(LeadrankError):
    status_code = 429
    code = "limit_exceeded"
