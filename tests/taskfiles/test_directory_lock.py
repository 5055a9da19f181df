"""directory_lock: exclusive between threads, and between greenlets of one gevent worker without stopping the
process (a flock that waits in the kernel there froze the worker until gunicorn's WORKER TIMEOUT: the holder
was another greenlet of the same process, paused in a database query inside the lock)."""
from __future__ import annotations

import subprocess
import sys
import threading

from data_pipeline.taskfiles.safety import directory_lock
from tests.server_process import PROJECT_ROOT

GREENLETS = r"""
from gevent import monkey
monkey.patch_all()
import pathlib, sys, tempfile
import gevent
from data_pipeline.taskfiles.safety import directory_lock

directory = pathlib.Path(tempfile.mkdtemp())
order = []

def holder():
    with directory_lock(directory):
        order.append("held")
        gevent.sleep(0.3)          # a query inside the lock: other greenlets run meanwhile
        order.append("released")

def waiter():
    with directory_lock(directory):
        order.append("second")

gevent.joinall([gevent.spawn(holder), gevent.spawn_later(0.05, waiter)])
print(",".join(order))
"""


def test_greenlets_of_one_process_wait_for_each_other_without_freezing_it():
    # with a blocking flock the second greenlet stops the process and the holder never resumes: a hang
    done = subprocess.run([sys.executable, "-c", GREENLETS], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "held,released,second"


def test_threads_wait_for_the_holder(tmp_path):
    order: list[str] = []
    held = threading.Event()

    def holder():
        with directory_lock(tmp_path):
            order.append("held")
            held.set()
            threading.Event().wait(0.3)
            order.append("released")

    first = threading.Thread(target=holder)
    first.start()
    assert held.wait(30)
    with directory_lock(tmp_path):
        order.append("second")
    first.join(30)
    assert order == ["held", "released", "second"]
