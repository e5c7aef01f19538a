"""Work done on a second core: a forked child computes a part of a large input while this process computes the
rest, and sends its result back through a pipe as bytes. Only for one-shot commands (lint, scan): the operator
never forks. The child shares the parent's memory as it was at the fork, so it needs no input sent to it; any
failure of the child (an exception, a value that cannot be serialized, a signal) gives None, and the caller then
does that part itself, so the result is always the one a single process gives."""
from __future__ import annotations

import os
import sys
from typing import Callable


LOADAVG = "/proc/loadavg"


def can_fork() -> bool:
    """Two cores or more, one of them idle now, and no other thread: one holding a lock at the fork would leave
    the child stuck. A child sharing a core with other work makes the whole slower, not faster (measured: a third
    slower on two cores while another process kept one busy), for the copies a fork costs."""
    threading = sys.modules.get("threading")
    # sched_getaffinity is Linux's (the cores this process may use); macOS and the BSDs have fork without it
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return (hasattr(os, "fork") and cores >= 2 and (threading is None or threading.active_count() == 1)
            and runnable_elsewhere() <= cores - 2)


def runnable_elsewhere() -> int:
    """Tasks of the machine that are runnable at this moment besides this process (Linux's /proc/loadavg, the
    fourth field: runnable/total); 0 where the system does not say."""
    try:
        with open(LOADAVG) as handle:
            return max(0, int(handle.read().split()[3].split("/")[0]) - 1)
    except (OSError, ValueError, IndexError):
        return 0


class ForkedWork:
    """`work()` run in a forked child (the caller checked can_fork()). result() waits for it: its bytes, or None."""

    def __init__(self, work: Callable[[], bytes]):
        self._data: bytes | None = None
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:   # the child: compute, send, exit without running the parent's exit handlers or buffers
            status = 1
            try:
                os.close(read_end)
                with os.fdopen(write_end, "wb") as pipe:
                    pipe.write(work())
                status = 0
            finally:
                os._exit(status)
        os.close(write_end)
        self._child: tuple[int, int] | None = (pid, read_end)

    def result(self) -> bytes | None:
        """Also reaps the child (no zombie, no open pipe): call it even when the result is no longer needed."""
        if self._child is not None:
            pid, read_end = self._child
            self._child = None
            with os.fdopen(read_end, "rb") as pipe:
                data = pipe.read()
            _, status = os.waitpid(pid, 0)
            self._data = data if status == 0 else None
        return self._data
