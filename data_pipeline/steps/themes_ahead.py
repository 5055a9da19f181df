"""qa_generation's theme call, sent from the end of ddl_generation (issue 26: the ddl -> themes gap).

In a complete run both steps run in one executor process, and the theme prompt depends only on files
ddl_generation has just written (the snapshot, the `_detail.md` docs, `semantic_model.json`) and on the task's
settings. So once those files are written, ddl_generation sends the call (`send`): on a thread, the prompt is
built from the files exactly as qa_generation builds it, and the call goes out while the step's outputs are
registered and the next step starts. qa_generation then builds its own prompt and asks through `ask` for
the answer: the call sent ahead is used only when its messages are the very ones qa_generation built (a file
edited in between makes them differ: qa_generation then makes its own call, and the one sent ahead is counted
in the LLM usage like any other, and logged). Its answer, or its error, is what the call would have given.

Only when qa_generation runs next in this process with an LLM (`ctx.options["next_steps"]`); a step-mode
ddl_generation sends nothing.
"""
from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Any, Callable, Optional

from data_pipeline.steps.base import StepContext

THEMES_PURPOSE = "qa_themes"
_lock = threading.Lock()
_open: dict[tuple, "_Ahead"] = {}


class _Ahead:
    def __init__(self) -> None:
        self.messages: Optional[list[dict]] = None     # None: the prompt could not be built (nothing sent)
        self.built = threading.Event()
        self.answer: Future = Future()


def _key(ctx: StepContext) -> tuple:
    return ctx.task_id, ctx.execution_id


def send(ctx: StepContext, build: Callable[[StepContext], list[dict]]) -> Optional[threading.Thread]:
    """ddl_generation, its files written: when qa_generation runs next here with an LLM, build its theme prompt
    (`build(ctx)`: qa_generation.theme_messages_for) and send the call on a thread (returned). Never raises."""
    if ctx.llm is None or not ctx.runs_later_here("qa_generation"):
        return None
    ahead = _Ahead()
    with _lock:
        _open[_key(ctx)] = ahead

    def run() -> None:
        try:
            from data_pipeline.qa.themes import ThemesAnswer
            ahead.messages = build(ctx)
        except Exception as exc:  # noqa: BLE001 - an optimisation: qa_generation makes the call itself
            ctx.logger.warning("theme call not sent ahead: %s", type(exc).__name__)
            return
        finally:
            ahead.built.set()
        try:
            ahead.answer.set_result(ctx.llm.chat_json(ahead.messages, ThemesAnswer, purpose=THEMES_PURPOSE))
        except BaseException as exc:  # noqa: BLE001 - handed to qa_generation, which reports it as its own
            ahead.answer.set_exception(exc)
    thread = threading.Thread(target=run, name="themes_ahead", daemon=True)
    thread.start()
    return thread


def asker(ctx: StepContext) -> Callable[[list[dict]], Any]:
    """qa_generation: `ask(messages)` -> the theme answer: the one sent ahead when its messages are these very
    messages, else a call made now. What the call sent ahead raised is raised here."""
    with _lock:
        ahead = _open.pop(_key(ctx), None)

    def ask(messages: list[dict]) -> Any:
        if ahead is not None:
            ahead.built.wait()
            if ahead.messages == messages:
                return ahead.answer.result()
            if ahead.messages is not None:
                ctx.logger.warning("the theme call sent ahead was not used: its prompt differs from this step's "
                                   "(a file changed in between); calling again")
        from data_pipeline.qa.themes import ThemesAnswer
        return ctx.llm.chat_json(messages, ThemesAnswer, purpose=THEMES_PURPOSE)
    return ask
