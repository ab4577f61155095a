"""One renderer for every error: `{"error": {"code", "message", "details"?}}`."""

from __future__ import annotations

from typing import Any

import structlog
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from clipper.errors import ClipperError, ErrorCode

log = structlog.get_logger(__name__)

# Litestar's own HTTP exceptions, mapped onto our closed list of codes.
_BY_STATUS: dict[int, ErrorCode] = {
    400: ErrorCode.VALIDATION_ERROR,
    401: ErrorCode.UNAUTHORIZED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.NOT_FOUND,
    409: ErrorCode.CONFLICT,
    413: ErrorCode.UPLOAD_TOO_LARGE,
    415: ErrorCode.UNSUPPORTED_MEDIA,
    429: ErrorCode.RATE_LIMITED,
}


def error_response(
    status: int, code: ErrorCode | str, message: str, details: Any = None
) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {"code": str(code), "message": message}
    if details is not None:
        body["details"] = details
    headers = {"Retry-After": "1"} if status == 429 else None
    return Response({"error": body}, status_code=status, media_type=MediaType.JSON, headers=headers)


def clipper_error_handler(_: Request[Any, Any, Any], exc: ClipperError) -> Response[dict[str, Any]]:
    return error_response(exc.http_status, exc.code, exc.message, exc.details)


def validation_error_handler(
    _: Request[Any, Any, Any], exc: ValidationException
) -> Response[dict[str, Any]]:
    # Litestar reports the first problem of a msgspec decode; keep its words and key.
    extra = exc.extra if isinstance(exc.extra, list) else []
    message = exc.detail
    details = None
    if extra and isinstance(extra[0], dict):
        message = str(extra[0].get("message", message))
        if "key" in extra[0]:
            details = {"field": extra[0]["key"]}
    return error_response(400, ErrorCode.VALIDATION_ERROR, message, details)


def http_error_handler(_: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    code = _BY_STATUS.get(exc.status_code, ErrorCode.INTERNAL)
    message = exc.detail if exc.status_code < 500 else "internal error"
    return error_response(exc.status_code, code, message)


def internal_error_handler(
    request: Request[Any, Any, Any], exc: Exception
) -> Response[dict[str, Any]]:
    log.error("unhandled error", path=request.url.path, exc_info=exc)
    return error_response(HTTP_500_INTERNAL_SERVER_ERROR, ErrorCode.INTERNAL, "internal error")


EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    ClipperError: clipper_error_handler,
    ValidationException: validation_error_handler,
    NotFoundException: http_error_handler,
    HTTPException: http_error_handler,
    Exception: internal_error_handler,
}
