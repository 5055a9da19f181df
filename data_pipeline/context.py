"""What a process needs to work: settings, resolved database URLs and the pool on our own database."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from app_config import PROJECT_ROOT, Settings
from core.db import Database
from core.runtime import Runtime, prepare


@dataclass
class AppContext:
    settings: Settings
    runtime: Runtime
    db: Database
    # (the settings it came from, resolved root): Path.resolve() is a few syscalls, and every task request asks
    _root_cache: tuple = field(default=(None, None), init=False, repr=False, compare=False)

    @property
    def tasks_root(self) -> Path:
        key = (self.settings.training_data_dir, self.settings.data_home)
        if self._root_cache[0] != key:
            self._root_cache = (key, self.settings.tasks_root)
        return self._root_cache[1]

    def task_dir(self, task_id: str) -> Path:
        """Callers validate `task_id` first (data_pipeline.ids.require_task_id)."""
        return self.tasks_root / task_id

    def display_path(self, path: Path) -> str:
        """A path as shown to clients: relative to the data home or project root, never an absolute host path."""
        path = Path(path).resolve()
        for base in (self.settings.data_home.resolve(), PROJECT_ROOT):
            try:
                return "./" + path.relative_to(base).as_posix()
            except ValueError:
                continue
        try:
            return "./" + path.relative_to(self.tasks_root.parent.parent).as_posix()
        except ValueError:
            return path.name


def build_context(settings: Settings, *, bootstrap: bool = True, maxconn: int = 20) -> AppContext:
    runtime = prepare(settings, bootstrap=bootstrap)
    return AppContext(settings=settings, runtime=runtime, db=Database(runtime.meta_url, maxconn=maxconn))
