"""One place that turns every failure into the contract's error envelope (no stack trace, no secret), and the
request-level guards that keep client mistakes out of the 5xx range: control characters in the path, the query
string or form fields, OPTIONS (204 + Allow), and no slash-merging redirects."""
from __future__ import annotations

import logging
import traceback

from flask import Flask, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed as WzMethodNotAllowed, NotFound, \
    RequestEntityTooLarge

from core.errors import AppError, FileTooLarge, InvalidFileName, MethodNotAllowed, RouteNotFound, ValidationFailed
from core.secrets import scrub_text
from data_pipeline.api.envelope import check_values, control_character_problem, error_response

log = logging.getLogger("data_pipeline.api")


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(AppError)
    def _app_error(err: AppError):
        if err.status >= 500:
            log.error("%s: %s", err.code, scrub_text(err.details))
        return error_response(err)

    @app.errorhandler(NotFound)
    def _not_found(_err):
        return error_response(RouteNotFound())

    @app.errorhandler(WzMethodNotAllowed)
    def _method(_err):
        return error_response(MethodNotAllowed())

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(_err):
        limit = request.max_content_length or app.config.get("MAX_CONTENT_LENGTH") or 0
        if limit < 1024 * 1024:   # a chunked JSON body cut off at MAX_JSON_BODY_KB (request_policy.py)
            return error_response(FileTooLarge(f"the request is larger than {limit // 1024} KB (MAX_JSON_BODY_KB)"))
        return error_response(FileTooLarge(f"the request is larger than {limit // (1024 * 1024)} MB"))

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException):
        if err.code and 400 <= err.code < 500:
            e = ValidationFailed(err.description or err.name, status=err.code)
            return error_response(e)
        return error_response(AppError("unexpected server error"))

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):
        # the client sees a generic sentence; the operator gets the request, the type and the traceback, all
        # scrubbed (a driver error can quote a URL with its password) - `exc_info` would log the raw message
        trace = scrub_text("".join(traceback.format_exception(err)))
        log.error("unhandled %s on %s %s: %s\n%s", type(err).__name__, request.method, request.path,
                  scrub_text(str(err))[:500], trace.rstrip())
        return error_response(AppError("unexpected server error; see the service log"))


def register_request_guards(app: Flask) -> None:
    # `/tasks//execute` or `/tasks/%2Ftmp` must not be redirected (an HTML 308) to a merged path: 404 instead
    app.url_map.merge_slashes = False

    @app.before_request
    def _refuse_control_characters():
        if control_character_problem("path", request.path):
            # name the URL part that holds it; a file name gets the contract's file-name error
            for name, value in (request.view_args or {}).items():
                problem = control_character_problem(name, str(value))
                if problem:
                    error = InvalidFileName if name == "file_name" else ValidationFailed
                    raise error(problem, invalid_params=[name])
            raise ValidationFailed(control_character_problem("path", request.path), invalid_params=["path"])
        check_values({k: v for k, v in request.args.items(multi=True)})
        if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
            check_values({k: v for k, v in request.form.items(multi=True)})

    @app.after_request
    def _options_no_content(resp):
        # Flask answers OPTIONS itself with 200, an empty text/html body and `Allow`: make it a proper 204
        if request.method == "OPTIONS" and resp.status_code == 200 and "Allow" in resp.headers:
            resp.status_code = 204
            resp.set_data(b"")
            resp.headers.pop("Content-Type", None)
        return resp
