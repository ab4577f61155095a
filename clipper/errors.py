"""The one error type of clipper and the one table that maps its codes to HTTP.

Every failure a user can see carries a stable, UPPER_SNAKE code. Activities raise
`ClipperError`; the activity layer turns it into a Temporal `ApplicationError` whose
`type` is the code, so the code survives the trip through the workflow history and
ends up, unchanged, in the job row and the API's error envelope.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    # request validation (400)
    VALIDATION_ERROR = "VALIDATION_ERROR"
    INVALID_TIMECODE = "INVALID_TIMECODE"
    INVALID_RANGE = "INVALID_RANGE"
    RANGE_OUTSIDE_SOURCE = "RANGE_OUTSIDE_SOURCE"
    CLIP_TOO_LONG = "CLIP_TOO_LONG"
    # auth (401/403)
    UNAUTHORIZED = "UNAUTHORIZED"
    FORBIDDEN = "FORBIDDEN"
    INVALID_SIGNATURE = "INVALID_SIGNATURE"
    # lookup and state (404/409/410)
    NOT_FOUND = "NOT_FOUND"
    UPLOAD_NOT_FOUND = "UPLOAD_NOT_FOUND"
    JOB_NOT_FOUND = "JOB_NOT_FOUND"
    NOT_READY = "NOT_READY"
    CONFLICT = "CONFLICT"
    GONE = "GONE"
    URL_EXPIRED = "URL_EXPIRED"
    # payload (413/415/416)
    UPLOAD_TOO_LARGE = "UPLOAD_TOO_LARGE"
    UNSUPPORTED_MEDIA = "UNSUPPORTED_MEDIA"
    RANGE_NOT_SATISFIABLE = "RANGE_NOT_SATISFIABLE"
    # rate limiting (429)
    RATE_LIMITED = "RATE_LIMITED"
    # job failures (reported on the job, not as HTTP statuses of the job endpoints)
    SOURCE_CORRUPT = "SOURCE_CORRUPT"
    SOURCE_UNAVAILABLE = "SOURCE_UNAVAILABLE"
    CUT_FAILED = "CUT_FAILED"
    STORAGE_ERROR = "STORAGE_ERROR"
    WORKER_LOST = "WORKER_LOST"
    TIMEOUT = "TIMEOUT"
    # our own faults / dependencies (5xx)
    INTERNAL = "INTERNAL"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"


HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.VALIDATION_ERROR: 400,
    ErrorCode.INVALID_TIMECODE: 400,
    ErrorCode.INVALID_RANGE: 400,
    ErrorCode.RANGE_OUTSIDE_SOURCE: 400,
    ErrorCode.CLIP_TOO_LONG: 400,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.INVALID_SIGNATURE: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.UPLOAD_NOT_FOUND: 404,
    ErrorCode.JOB_NOT_FOUND: 404,
    ErrorCode.NOT_READY: 409,
    ErrorCode.CONFLICT: 409,
    ErrorCode.GONE: 410,
    ErrorCode.URL_EXPIRED: 410,
    ErrorCode.UPLOAD_TOO_LARGE: 413,
    ErrorCode.UNSUPPORTED_MEDIA: 415,
    ErrorCode.RANGE_NOT_SATISFIABLE: 416,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.SOURCE_CORRUPT: 422,
    ErrorCode.SOURCE_UNAVAILABLE: 422,
    ErrorCode.CUT_FAILED: 500,
    ErrorCode.STORAGE_ERROR: 503,
    ErrorCode.WORKER_LOST: 503,
    ErrorCode.TIMEOUT: 504,
    ErrorCode.INTERNAL: 500,
    ErrorCode.SERVICE_UNAVAILABLE: 503,
}

# Failures that are a property of the input: retrying cannot help, so activities
# raise them as non-retryable and the job fails at once.
PERMANENT: frozenset[ErrorCode] = frozenset(
    {
        ErrorCode.VALIDATION_ERROR,
        ErrorCode.INVALID_TIMECODE,
        ErrorCode.INVALID_RANGE,
        ErrorCode.RANGE_OUTSIDE_SOURCE,
        ErrorCode.CLIP_TOO_LONG,
        ErrorCode.UNSUPPORTED_MEDIA,
        ErrorCode.SOURCE_CORRUPT,
        ErrorCode.SOURCE_UNAVAILABLE,
        ErrorCode.UPLOAD_NOT_FOUND,
        ErrorCode.NOT_FOUND,
        ErrorCode.FORBIDDEN,
    }
)


class ClipperError(Exception):
    """An expected failure with a stable code, safe to show to the user."""

    def __init__(self, code: ErrorCode, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    @property
    def http_status(self) -> int:
        return HTTP_STATUS[self.code]

    @property
    def permanent(self) -> bool:
        return self.code in PERMANENT

    def __repr__(self) -> str:
        return f"ClipperError({self.code.value}, {self.message!r})"


def code_of(value: str | None) -> ErrorCode:
    """The ErrorCode named by `value`, or INTERNAL for anything we did not define."""
    try:
        return ErrorCode(value or "")
    except ValueError:
        return ErrorCode.INTERNAL
