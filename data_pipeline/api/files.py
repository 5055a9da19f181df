"""Files and table lists of a task: list, download (two URL forms), upload, zip archive, table-list endpoints.

Every view validates the task id (400) and the task's existence (404) before touching the file system, and
file names through `data_pipeline.taskfiles.safety`. Routes use `<anypath:file_name>` (anything, even `//x`) so names
with `/` reach the validator and get INVALID_FILE_NAME instead of a redirect or a generic 404.
"""
from __future__ import annotations

import json
import os
from datetime import datetime
from urllib.parse import quote

from flask import Blueprint, Response, current_app, request, stream_with_context
from werkzeug.routing import BaseConverter
from werkzeug.wsgi import wrap_file

from core.errors import ValidationFailed
from data_pipeline.taskfiles import safety as file_safety
from data_pipeline.taskfiles import files
from data_pipeline.taskfiles import table_list
from data_pipeline.taskfiles import table_list_upload
from data_pipeline import tasks as task_service
from data_pipeline.api import ctx
from data_pipeline.api.envelope import etag_for, json_body, not_modified, ok, with_etag
from data_pipeline.store import tasks as task_store

bp = Blueprint("files", __name__, url_prefix="/api/v0/data_pipeline/tasks")


class AnyPathConverter(BaseConverter):
    """Everything after `/files/`, even empty or starting with `/` (`//etc/passwd`), so that the validator
    answers INVALID_FILE_NAME instead of a redirect or a generic 404. Used with merge_slashes=False."""
    regex = r"[\s\S]*"  # newlines too (a %0A in the name must reach the validator)
    part_isolating = False
    weight = 300


# registered before the routes below are added (deferred functions run in recording order)
bp.record_once(lambda state: state.app.url_map.converters.setdefault("anypath", AnyPathConverter))

_TEXT = "text/plain; charset=utf-8"
CONTENT_TYPES = {".ddl": _TEXT, ".log": _TEXT, ".txt": _TEXT, ".sql": _TEXT,
                 ".md": "text/markdown; charset=utf-8", ".json": "application/json; charset=utf-8",
                 ".csv": "text/csv; charset=utf-8", ".zip": "application/zip"}


def _task_and_dir(task_id: str):
    task = task_service.get_task_or_404(ctx(), task_id)  # validates the id before anything else
    return task, file_safety.task_dir_path(ctx().tasks_root, task_id)


def content_type_for(name: str) -> str:
    m = files._BACKUP_RE.match(name)
    ext = os.path.splitext(m["original"] if m else name)[1].lower()
    return CONTENT_TYPES.get(ext, "application/octet-stream")


def content_disposition(name: str, inline: bool = False) -> str:
    """RFC 6266/5987: an ASCII fallback `filename=` plus the exact UTF-8 name in `filename*=`."""
    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\' else "_" for ch in name)
    return (f"{'inline' if inline else 'attachment'}; filename=\"{fallback}\"; "
            f"filename*=UTF-8''{quote(name, safe='')}")


@bp.get("/<task_id>/files")
def list_files(task_id: str):
    _task, task_dir = _task_and_dir(task_id)
    data = files.list_files(ctx().db, task_id, task_dir)
    etag = etag_for("files", json.dumps(data, sort_keys=True, default=str))  # names, sizes, times
    return not_modified(etag) or with_etag(ok(data, message="获取文件列表成功"), etag,
                                           modified=tuple(f.get("modified_at") for f in data.get("files", [])))


def _send(task_id: str, file_name: str):
    _task, task_dir = _task_and_dir(task_id)
    path = file_safety.resolve_download(task_dir, file_name, request.args.get("dir"))
    fh = file_safety.open_nofollow(path)
    st = os.fstat(fh.fileno())
    inline = request.args.get("inline", "").lower() in ("1", "true", "yes")
    resp = current_app.response_class(wrap_file(request.environ, fh), mimetype=None,
                                      content_type=content_type_for(file_name), direct_passthrough=True)
    resp.content_length = st.st_size
    resp.last_modified = datetime.fromtimestamp(int(st.st_mtime)).astimezone()
    resp.set_etag(f"{st.st_mtime_ns:x}-{st.st_size:x}")
    resp.headers["Content-Disposition"] = content_disposition(file_name, inline)
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.cache_control.no_cache = True
    return resp.make_conditional(request.environ, accept_ranges=True, complete_length=st.st_size)


@bp.get("/<task_id>/files/download/<anypath:file_name>", merge_slashes=False)
def download_file_seed000(task_id: str, file_name: str):
    return _send(task_id, file_name)


@bp.get("/<task_id>/files/archive")
def download_archive(task_id: str):
    _task, task_dir = _task_and_dir(task_id)
    if not task_dir.is_dir():
        from core.errors import FileNotFound
        raise FileNotFound("the task directory does not exist")
    resp = Response(stream_with_context(files.stream_archive(task_id, task_dir)), content_type="application/zip")
    resp.headers["Content-Disposition"] = content_disposition(f"{task_id}.zip")
    return resp


@bp.get("/<task_id>/files/<anypath:file_name>", merge_slashes=False)
def download_file(task_id: str, file_name: str):
    return _send(task_id, file_name)


@bp.post("/<task_id>/files")
def upload_file(task_id: str):
    _task, task_dir = _task_and_dir(task_id)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ValidationFailed("multipart field 'file' is required", invalid_params=["file"])
    # the client's name is used as is (no secure_filename rewriting): it is validated, never sanitised silently
    file_name = upload.filename
    mode = (request.form.get("overwrite_mode") or request.args.get("overwrite_mode") or "backup").strip().lower()
    files.check_upload_name(file_name)
    data = files.read_limited(upload.stream, ctx().settings.max_upload_bytes)
    running = task_store.running_execution(ctx().db, task_id) is not None
    result = files.save_upload(ctx().db, task_id=task_id, task_dir=task_dir, file_name=file_name, data=data,
                               overwrite_mode=mode, running=running,
                               quota_bytes=ctx().settings.max_task_uploads_bytes)
    message = "文件已存在，已跳过" if result["action"] == "skipped" else "文件上传成功"
    return ok(result, message=message)


def _flag(value) -> bool:
    if isinstance(value, bool):
        return value
    return str(value or "").strip().lower() in ("1", "true", "yes")


@bp.post("/<task_id>/upload-table-list")
def upload_table_list(task_id: str):
    task, _task_dir = _task_and_dir(task_id)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ValidationFailed("multipart field 'file' is required", invalid_params=["file"])
    file_safety.validate_file_name(upload.filename)  # never used as a path, but refused like everywhere else
    data = table_list_upload.read_upload(upload.stream, ctx().settings)
    refs = table_list_upload.parse_upload(data, upload.filename, ctx().settings)
    business_context = request.form.get("business_context")
    if business_context is not None and len(business_context) > 4000:
        raise ValidationFailed("business_context must be at most 4000 characters", invalid_params=["business_context"])
    allow = _flag(request.form.get("allow_missing") or request.args.get("allow_missing"))
    result = table_list_upload.apply_table_list(ctx(), task, refs, business_context=business_context,
                                                allow_missing=allow)
    return ok(result, message="表清单文件上传成功")


@bp.post("/<task_id>/table-list")
def create_table_list(task_id: str):
    task, _task_dir = _task_and_dir(task_id)
    body = json_body(required=True)
    unknown = set(body) - {"table_names", "tables", "business_context", "allow_missing"}
    if unknown:
        raise ValidationFailed(f"unknown fields: {', '.join(sorted(unknown))}", invalid_params=sorted(unknown))
    names = body.get("table_names", body.get("tables"))
    if isinstance(names, str):
        names = names.split(",")
    if not isinstance(names, list) or len(names) > ctx().settings.table_list_max_lines:
        raise ValidationFailed("table_names must be an array of table names (or `tables` as a comma string), "
                               f"at most {ctx().settings.table_list_max_lines}", invalid_params=["table_names"])
    refs = table_list.parse_names(names)
    if not refs:
        raise ValidationFailed("table_names is empty", invalid_params=["table_names"])
    bc = body.get("business_context")
    if bc is not None and (not isinstance(bc, str) or len(bc) > 4000):
        raise ValidationFailed("business_context must be a string of at most 4000 characters",
                               invalid_params=["business_context"])
    result = table_list_upload.apply_table_list(ctx(), task, refs, business_context=bc,
                                                allow_missing=_flag(body.get("allow_missing")))
    return ok(result, message="表清单创建成功")


@bp.get("/<task_id>/table-list-info")
def table_list_info(task_id: str):
    _task_and_dir(task_id)
    return ok(table_list_upload.table_info(ctx(), task_id), message="获取表清单信息成功")
