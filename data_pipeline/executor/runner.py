"""The step state machine of one execution (complete or step mode), shared by task_executor.py and the CLI.

Each step runs in a worker thread while the calling (main) thread waits in short slices, so a cancel (SIGTERM
sets `cancel_event`) is noticed within ~0.1 s even when the step is blocked in a database or LLM call; the step
gets `stop_wait` seconds to stop cooperatively (`ctx.check_cancelled()`), then the runner records `cancelled`
regardless and the process exits (the worker thread is a daemon).

State per step: running -> completed | failed | cancelled (or skipped when disabled in complete mode);
re-running a step resets every later step to pending. Task status at the end: plan.final_task_status (warnings
of any step -> partial_completed, with plan.warnings_message as the task's error_message).
"""
from __future__ import annotations

import logging
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from app_config import Settings
from core.db import Database
from core.errors import AppError
from core.secrets import mask_secrets, scrub_text
from core.task_logging import StepFilter, step_logger
from data_pipeline.executor import outputs
from data_pipeline.executor.plan import (failure_message, final_task_status, overall_progress, planned_steps,
                                         task_warnings, warnings_message)
from data_pipeline.executor.tracking import NullTracker, TaskState, now_iso
from data_pipeline.steps import (STEP_LABELS, STEP_OUTPUTS, evaluation_on, later_steps, progress_bands,
                                 step_module)
from data_pipeline.steps.base import NEXT_STEPS_OPTION, StepCancelled, StepContext, StepResult, StepWarning
from data_pipeline.store import executions as execution_store
from data_pipeline.taskfiles.table_list import TableRef

log = logging.getLogger("data_pipeline.executor")
RESULT_FILE = "task_result.json"
PROGRESS_SAVE_INTERVAL_S = 0.5


def _warning_dict(warning: StepWarning | str) -> dict:
    """A step warning as stored in the step result: code, message, first objects and their count, scrubbed."""
    if isinstance(warning, str):
        warning = StepWarning("STEP_WARNING", warning)
    data = warning.to_dict()
    data["message"] = scrub_text(data["message"])
    data["objects"] = [scrub_text(o) for o in data["objects"]]
    return data


@dataclass
class RunSpec:
    """Everything one execution needs; built by executor.session (from the task row or CLI flags)."""
    task_id: str
    task_dir: Path
    params: dict
    options: dict
    mode: str
    step: Optional[str]
    settings: Settings
    business_url: str
    meta_db: Database
    tables: list[TableRef]
    execution_id: Optional[str] = None
    llm: Any = None
    track_outputs: bool = True          # register files in data_pipeline_task_outputs
    observers: list = field(default_factory=list)


class Runner:
    def __init__(self, spec: RunSpec, state: TaskState, *, tracker=None, cancel_event: threading.Event,
                 step_filter: Optional[StepFilter] = None, stop_wait: float = 0.5):
        self.spec, self.state = spec, state
        self.tracker = tracker or NullTracker()
        self.cancel_event, self.step_filter, self.stop_wait = cancel_event, step_filter, stop_wait
        self.cancel_reason = "cancelled by request"
        self.lost = False              # the task store says this execution is no longer ours
        self._lock = threading.RLock()
        self._last_save = 0.0
        self._cancelled_outputs: Optional[tuple] = None
        # progress bands of this run: the four-step bands unless it evaluates (data_pipeline.steps.progress_bands)
        self.bands = progress_bands(evaluation_on(spec.params) or spec.step == "evaluation")
        self._prefetch: list[str] = []      # later steps' modules, imported while the first step waits (issue 26)
        self._runnable: list[str] = []

    # -- persistence --------------------------------------------------------------------------------------------
    def _save(self, finish: Optional[dict] = None) -> None:
        with self._lock:
            if self.lost:
                return
            if not self.tracker.save(self.state, finish=finish):
                self.lost = True
                self.cancel_event.set()
                log.warning("execution %s was ended by another process; stopping", self.spec.execution_id)
            self._last_save = time.monotonic()

    def _notify(self, event: str, *args) -> None:
        for observer in self.spec.observers:
            getattr(observer, event)(*args)

    def _set_current_step(self, step: str) -> None:
        if self.step_filter is not None:
            self.step_filter.current_step = step

    # -- the run ------------------------------------------------------------------------------------------------
    def run(self) -> str:
        """Run the planned steps; returns the execution outcome: completed / failed / cancelled."""
        started = time.monotonic()
        spec = self.spec
        plan = planned_steps(spec.mode, spec.step, spec.params)
        with self._lock:
            self.state.status, self.state.error_message = "in_progress", None
            if spec.mode == "complete":  # a fresh complete run: every step starts over
                self.state.step_status = {s: "pending" for s, _ in plan}
                self.state.step_details, self.state.progress = {}, 0
                self.state.result = {"steps": {}}
            elif isinstance(self.state.result, dict):  # the quality numbers belong to the run that made them
                self.state.result.pop("quality", None)
        self._save()
        log.info("execution %s started: mode=%s%s, %d table(s), generator=%s", spec.execution_id or "-",
                 spec.mode, f", step={spec.step}" if spec.step else "", len(spec.tables),
                 "llm" if spec.llm is not None else "rule_based")
        outcome, error = "completed", None
        runnable = [s for s, run in plan if run]
        self._prefetch = runnable[1:]
        self._runnable = runnable
        for step, run in plan:
            if self.cancel_event.is_set():
                outcome, error = "cancelled", self.cancel_reason
                break
            if not run:
                self._skip(step)
                continue
            outcome, error = self._run_step(step, runnable.index(step) + 1, len(runnable))
            if outcome != "completed":
                break
        return self._finish(outcome, error, time.monotonic() - started)

    def _skip(self, step: str) -> None:
        with self._lock:
            self.state.step_status[step] = "skipped"
            self.state.step_details[step] = {"started_at": None, "completed_at": now_iso(), "duration": 0,
                                             "error_message": None, "skipped_reason": "disabled in the task "
                                             "parameters"}
            self.state.progress = self.bands[step][1]
        log.info("step %s skipped: disabled in the task parameters", step, extra={"step": step})
        self._save()

    def _start_step(self, step: str) -> None:
        with self._lock:
            state = self.state
            state.step_status[step] = "running"
            state.step_details[step] = {"started_at": now_iso(), "completed_at": None, "duration": None,
                                        "error_message": None, "progress": 0.0, "message": ""}
            result = state.result if isinstance(state.result, dict) else {}
            result.setdefault("steps", {}).pop(step, None)
            for later in later_steps(step):  # a re-run invalidates everything built on the old output
                if later not in state.step_status:   # an optional step the task never showed stays absent
                    continue
                state.step_status[later] = "pending"
                state.step_details.pop(later, None)
                result["steps"].pop(later, None)
            state.result = result
            state.progress = overall_progress(step, 0.0, self.bands)
        self._save()

    def _progress_callback(self, step: str):
        def progress(fraction: float, message: str = "") -> None:
            fraction = min(max(float(fraction), 0.0), 1.0)
            with self._lock:
                details = self.state.step_details.get(step)
                if details is None or self.state.step_status.get(step) != "running":
                    return
                details["progress"] = round(fraction * 100, 1)
                details["message"] = scrub_text(str(message))[:300]
                self.state.progress = max(self.state.progress, overall_progress(step, fraction, self.bands))
                due = time.monotonic() - self._last_save >= PROGRESS_SAVE_INTERVAL_S
                prefetch, self._prefetch = (self._prefetch, []) if fraction > 0 else ([], self._prefetch)
            if prefetch:
                prefetch_step_modules(prefetch)
            if due:
                try:
                    self._save()
                except Exception as exc:  # noqa: BLE001 - a missed progress write must not fail the step
                    log.warning("progress not recorded: %s", type(exc).__name__, extra={"step": step})
            self._notify("step_progress", step, self.state.progress, fraction, str(message))
        return progress

    def _run_step(self, step: str, index: int, total: int) -> tuple[str, Optional[str]]:
        spec = self.spec
        self._set_current_step(step)
        self._start_step(step)
        self._notify("step_started", step, index, total)
        log.info("step %s (%s) started [%d/%d]", step, STEP_LABELS[step], index, total, extra={"step": step})
        t0, wall0 = time.monotonic(), time.time()
        try:
            module = step_module(step)
        except Exception as exc:  # noqa: BLE001 - a broken step module fails that step, with the reason
            log.error("step %s cannot be loaded\n%s", step, traceback.format_exc(), extra={"step": step})
            first = (str(exc).strip().splitlines() or [""])[0]
            return self._end_step(step, "failed", scrub_text(f"step {step} cannot be loaded: "
                                                             f"{type(exc).__name__}: {first}")[:500], t0)
        patterns = STEP_OUTPUTS[step]
        if spec.options.get("clean_previous", True):
            removed = outputs.clean_step_outputs(spec.meta_db if spec.track_outputs else None, spec.task_id,
                                                 spec.task_dir, step, patterns)
            if removed:
                log.info("clean_previous: removed %d earlier output file(s) of %s", len(removed), step,
                         extra={"step": step})
                if spec.execution_id and spec.track_outputs:
                    execution_store.mark_files_cleaned(spec.meta_db, spec.execution_id)
        ctx = StepContext(
            task_id=spec.task_id, task_dir=spec.task_dir, params=spec.params,
            # the steps still to come in this process (a step may start work for them: steps/early_checks.py,
            # themes_ahead.py, embeddings_ahead.py)
            options={**spec.options, NEXT_STEPS_OPTION: self._runnable[self._runnable.index(step) + 1:]
                     if step in self._runnable else []},
            settings=spec.settings, business_url=spec.business_url, meta_db=spec.meta_db, tables=spec.tables,
            logger=step_logger(f"data_pipeline.steps.{step}", step), execution_id=spec.execution_id,
            progress=self._progress_callback(step), cancel_event=self.cancel_event, llm=spec.llm)
        box: dict = {}

        def work() -> None:
            self._set_current_step(step)
            try:
                demo_delay(ctx, step)
                box["result"] = module.run(ctx)
            except BaseException as exc:  # noqa: BLE001 - handed to the main thread, which classifies it
                box["error"] = exc
                box["traceback"] = traceback.format_exc()

        worker = threading.Thread(target=work, name=f"step-{step}", daemon=True)
        worker.start()
        cancel_seen = None
        while worker.is_alive():
            worker.join(0.1)
            if self.cancel_event.is_set():
                cancel_seen = cancel_seen or time.monotonic()
                if time.monotonic() - cancel_seen >= self.stop_wait:
                    break
        error = box.get("error")
        if isinstance(error, StepCancelled) or (self.cancel_event.is_set() and
                                                (worker.is_alive() or error is not None)):
            return self._cancel_step(step, patterns, t0, wall0)
        if error is not None:
            if isinstance(error, AppError):
                message = scrub_text(error.details)
                log.error("step %s failed: %s", step, message, extra={"step": step})
            else:
                first = (str(error).strip().splitlines() or [""])[0]
                message = scrub_text(f"unexpected error in {step}: {type(error).__name__}: {first}")[:1000]
                log.error("step %s failed with an unexpected error\n%s", step, box.get("traceback", ""),
                          extra={"step": step})
            return self._end_step(step, "failed", message, t0)
        result: StepResult = box.get("result") or StepResult(summary={})
        registered = outputs.register_outputs(spec.meta_db if spec.track_outputs else None, spec.task_id,
                                              spec.execution_id, spec.task_dir, step, result.outputs, patterns,
                                              since=wall0)
        summary = dict(result.summary or {})
        summary.setdefault("output_files", [e["file_name"] for e in registered])
        if result.warnings:
            summary["warnings"] = [_warning_dict(w) for w in result.warnings][:100]
            for w in summary["warnings"][:20]:
                shown = ", ".join(w["objects"][:5]) + (f" (+{w['object_count'] - 5} more)" if w["object_count"] > 5 else "")
                log.warning("%s: %s%s", w["code"], w["message"], f" [{shown}]" if shown else "", extra={"step": step})
        outcome = self._end_step(step, "completed", None, t0, summary=summary)
        if self.cancel_event.is_set() and not self.lost:  # finished just as the cancel arrived: stop here
            return "cancelled", self.cancel_reason
        return outcome

    def _cancel_step(self, step: str, patterns, t0: float, wall0: float) -> tuple[str, Optional[str]]:
        removed = outputs.remove_partial_outputs(self.spec.meta_db if self.spec.track_outputs else None,
                                                 self.spec.task_id, self.spec.task_dir, step, patterns, wall0)
        if removed:
            log.info("removed %d partial output file(s) of the cancelled step", len(removed), extra={"step": step})
        self._cancelled_outputs = (step, patterns, wall0)
        return self._end_step(step, "cancelled", self.cancel_reason, t0)

    def sweep_cancelled_outputs(self) -> list[str]:
        """Remove, once more, files the cancelled step's threads wrote after the first clean-up (they may still
        be finishing an LLM call). Called by the executor just before the process ends; files only (a cancelled
        step's files are never registered)."""
        if self._cancelled_outputs is None:
            return []
        step, patterns, since = self._cancelled_outputs
        return outputs.remove_partial_outputs(None, self.spec.task_id, self.spec.task_dir, step, patterns, since)

    def _end_step(self, step: str, status: str, error: Optional[str], t0: float,
                  summary: Optional[dict] = None) -> tuple[str, Optional[str]]:
        duration = round(time.monotonic() - t0, 3)
        with self._lock:
            self.state.step_status[step] = status
            details = self.state.step_details.setdefault(step, {})
            details.update(completed_at=now_iso(), duration=duration, error_message=error)
            if status == "completed":
                details["progress"] = 100.0
                self.state.progress = self.bands[step][1]
                self.state.result.setdefault("steps", {})[step] = mask_secrets(summary or {})
        level = logging.INFO if status == "completed" else logging.WARNING if status == "cancelled" else logging.ERROR
        log.log(level, "step %s %s in %.2f s%s", step, status, duration, f": {error}" if error else "",
                extra={"step": step})
        self._save()
        self._notify("step_finished", step, status, duration, error)
        self._set_current_step("executor")
        return status, error

    def _finish(self, outcome: str, error: Optional[str], duration: float) -> str:
        spec = self.spec
        with self._lock:
            state = self.state
            warnings = task_warnings(state.result, state.step_status)
            state.status = final_task_status(outcome, state.step_status, warnings)
            if outcome == "completed":
                state.error_message = warnings_message(warnings)
            elif outcome == "failed":
                state.error_message = failure_message(state.step_status, error)
            else:
                state.error_message = error
            if state.status == "completed":
                state.progress = 100
            result = state.result if isinstance(state.result, dict) else {"steps": {}}
            result.update(execution_id=spec.execution_id, execution_mode=spec.mode, execution_step=spec.step,
                          execution_outcome=outcome, execution_duration=round(duration, 3),
                          finished_at=now_iso())
            quality = quality_report(spec, state.step_status)
            if quality is not None:
                result["quality"] = quality
            state.result = mask_secrets(result)
        if not self.lost:  # another process ended this execution: its verdict stands, not our view
            write_result_file(spec, state)
        log.info("execution %s %s in %.2f s; task status %s%s", spec.execution_id or "-", outcome, duration,
                 state.status, f" ({len(warnings)} warning(s))" if warnings else "", extra={"step": "executor"})
        self._save(finish={"status": outcome, "error_message": error,
                           "execution_result": {"outcome": outcome, "task_status": state.status,
                                                "warnings": len(warnings),
                                                "steps": {s: state.step_status[s] for s in state.step_status}}})
        self._notify("run_finished", outcome, state, duration)
        return outcome


def prefetch_step_modules(steps: list[str]) -> threading.Thread:
    """Import the later steps' code in a daemon thread while the current step waits for the LLM, so the
    steps follow each other without an import pause (the import lock makes a concurrent `step_module` wait for
    this import instead of repeating it; a module that fails to import fails its step later, as before)."""
    def load() -> None:
        for step in steps:
            try:
                step_module(step)
            except Exception:  # noqa: BLE001 - reported by the runner when that step starts
                pass
    thread = threading.Thread(target=load, name="prefetch-steps", daemon=True)
    thread.start()
    return thread


def demo_delay(ctx: StepContext, step: str) -> None:
    """The `demo_delay_s` execute option (demo/test only): wait that long before the step's work, cancellable,
    so a cancel can be tried on the small demo database whose runs otherwise end in a few seconds."""
    delay = float(ctx.options.get("demo_delay_s") or 0)
    if delay <= 0:
        return
    ctx.logger.info("demo_delay_s: waiting %.1f s before the step (demo/test option)", delay)
    ctx.progress(0.0, f"demo_delay_s: waiting {delay:g} s")
    if ctx.cancel_event.wait(delay):
        raise StepCancelled("cancelled during demo_delay_s")


def quality_report(spec: RunSpec, step_status: dict) -> Optional[dict]:
    """The task's quality report as of the end of this run, also written to quality_report.json (so the file
    exists when validation was skipped or has not run yet; its numbers then say `not_run`).

    Without a completed qa_generation the pair file in the directory is an earlier run's (a run cancelled or
    failed before qa, or a DDL re-run that reset it): its numbers would describe that run, so the report says
    there are no current pairs instead (the console's tiles then show this run's state)."""
    from data_pipeline.validation import quality   # imported when needed: not on the way to the first LLM call
    qa_state = step_status.get("qa_generation", "pending")
    try:
        if qa_state != "completed":
            report = no_current_pairs_report(qa_state)
            if step_status.get("ddl_generation") == "completed":  # the DDL is this run's: its comments count
                report["comments"] = quality.build_quality_report(spec.task_dir).get("comments")
            from data_pipeline.tasks import write_json_atomic
            write_json_atomic(spec.task_dir / quality.QUALITY_FILE, report)
            return report
        return quality.write_quality_report(spec.task_dir,
                                            with_evaluation=step_status.get("evaluation") == "completed")
    except Exception as exc:  # noqa: BLE001 - a report problem must not fail a finished run
        log.warning("quality report unavailable: %s: %s", type(exc).__name__, scrub_text(str(exc))[:200])
        return None


def no_current_pairs_report(qa_state: str) -> dict:
    """The quality report's shape with every number unknown (null, never zero) and the reason."""
    return {"generated_at": time.strftime("%Y-%m-%dT%H:%M:%S"), "status": "not_run",
            "reason": f"qa_generation is {qa_state} after this run: no current question-SQL pairs",
            "pairs_file": None, "pairs_in": None, "pairs_out": None, "executable_rate": None,
            "executable_rate_after_repair": None, "non_empty_rate": None,
            "validation": {"status": "not_run"}, "coverage": None, "comments": None}


def write_result_file(spec: RunSpec, state: TaskState) -> None:
    """task_result.json: the task's status, steps and summaries, secrets masked (the file is downloadable)."""
    from data_pipeline.tasks import write_json_atomic
    body = mask_secrets({"task_id": spec.task_id, "status": state.status, "progress": state.progress,
                         "step_status": state.step_status, "steps": state.step_details,
                         "error_message": state.error_message,
                         "warnings": task_warnings(state.result, state.step_status), "result": state.result})
    try:
        write_json_atomic(spec.task_dir / RESULT_FILE, body)
    except OSError as exc:
        log.warning("could not write %s: %s", RESULT_FILE, exc.strerror)
