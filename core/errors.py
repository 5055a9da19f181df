"""One error hierarchy with a contract code and an HTTP status; no Flask in here.

The API turns any `AppError` into the contract's error envelope; steps and the executor raise the same types so
an error message reaches the task row unchanged.
"""
from __future__ import annotations

from typing import Iterable, Optional


class AppError(Exception):
    """Something went wrong."""

    status = 500
    code = "INTERNAL_ERROR"
    message = "服务器内部错误"
    error_type = "InternalError"

    def __init__(self, details: Optional[str] = None, *, invalid_params: Iterable[str] = (),
                 message: Optional[str] = None, status: Optional[int] = None):
        self.details = details or (self.__doc__ or "").strip()
        self.invalid_params = list(invalid_params)
        if message:
            self.message = message
        if status:
            self.status = status
        super().__init__(self.details)


class ValidationFailed(AppError):
    """The request is not valid."""
    status, code, message, error_type = 400, "VALIDATION_ERROR", "请求参数错误", "ValidationError"


class InvalidExecutionMode(ValidationFailed):
    """execution_mode must be 'complete' or 'step'."""
    code = "INVALID_EXECUTION_MODE"


class MissingStepName(ValidationFailed):
    """step_name is required in step mode."""
    code = "MISSING_STEP_NAME"


class InvalidStepName(ValidationFailed):
    """Unknown step name."""
    code = "INVALID_STEP_NAME"


class TableListMissing(ValidationFailed):
    """The task has no table list yet: upload one first."""
    code = "TABLE_LIST_MISSING"


class InvalidFileName(ValidationFailed):
    """The file name is not allowed."""
    code = "INVALID_FILE_NAME"


class UnsupportedFileType(ValidationFailed):
    """This file type is not accepted."""
    code = "UNSUPPORTED_FILE_TYPE"


class TaskNotFound(AppError):
    """No such task."""
    status, code, message, error_type = 404, "TASK_NOT_FOUND", "任务不存在", "NotFoundError"


class FileNotFound(AppError):
    """No such file."""
    status, code, message, error_type = 404, "FILE_NOT_FOUND", "文件不存在", "NotFoundError"


class RouteNotFound(AppError):
    """No such endpoint."""
    status, code, message, error_type = 404, "NOT_FOUND", "资源不存在", "NotFoundError"


class MethodNotAllowed(AppError):
    """This method is not allowed on this endpoint."""
    status, code, message, error_type = 405, "METHOD_NOT_ALLOWED", "请求方法不允许", "MethodNotAllowed"


class Unauthorized(AppError):
    """A valid bearer token is required."""
    status, code, message, error_type = 401, "UNAUTHORIZED", "未授权", "AuthError"


class Conflict(AppError):
    """The request conflicts with the task's state."""
    status, code, message, error_type = 409, "VALIDATION_ERROR", "请求冲突", "ConflictError"


class TaskAlreadyRunning(Conflict):
    """The task already has a running execution."""
    code, message = "TASK_ALREADY_RUNNING", "任务正在执行中"


class ConcurrencyLimitReached(Conflict):
    """Too many tasks are running; try again when one finishes."""
    code, message = "CONCURRENCY_LIMIT_REACHED", "并发任务数已达上限"


class StepDependencyNotMet(Conflict):
    """An earlier step has not completed."""
    code, message = "STEP_DEPENDENCY_NOT_MET", "前置步骤未完成"


class TaskNotCancellable(Conflict):
    """The task has no running execution to cancel."""
    code, message = "TASK_NOT_CANCELLABLE", "任务当前不可取消"


class FileTooLarge(AppError):
    """The upload is larger than allowed."""
    status, code, message, error_type = 413, "FILE_TOO_LARGE", "文件过大", "ValidationError"


class DatabaseConnectionError(AppError):
    """The database could not be reached."""
    status, code, message, error_type = 500, "DATABASE_CONNECTION_ERROR", "数据库连接失败", "DatabaseError"


class LLMError(AppError):
    """The LLM service failed."""
    status, code, message, error_type = 500, "LLM_ERROR", "大模型调用失败", "LLMError"


class VectorBackupFailed(AppError):
    """Backing up the vector tables failed."""
    status, code, message, error_type = 500, "VECTOR_BACKUP_FAILED", "向量表备份失败", "VectorError"


class VectorTruncateFailed(AppError):
    """Truncating the vector tables failed."""
    status, code, message, error_type = 500, "VECTOR_TRUNCATE_FAILED", "向量表清空失败", "VectorError"
