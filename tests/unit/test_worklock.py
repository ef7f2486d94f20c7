"""Two commands on one .work/<series>/: real processes taking the series' lock. A second
one waits, says who holds the lock, and goes on when it is free; readers share it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

from harness.workflows.run_logs import LATEST, new_run_dir, prune

DEADLINE = 10.0
HOLD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from harness.worklock import SeriesLock
    lock = SeriesLock(Path(sys.argv[1]), sys.argv[2], lambda text: print(text, flush=True))
    getattr(lock, sys.argv[3])(sys.argv[2])
    print("holding", flush=True)
    time.sleep(float(sys.argv[4]))
    """
)


def hold(root: Path, step: str, mode: str, seconds: float) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", HOLD, str(root), step, mode, str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )


def first_line(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    return proc.stdout.readline().strip()


def test_second_command_waits_and_names_the_holder(tmp_path: Path) -> None:
    builder = hold(tmp_path, "build", "exclusive", DEADLINE)
    try:
        assert first_line(builder) == "holding"
        tester = hold(tmp_path, "test", "shared", 0)
        line = first_line(tester)
        assert line.startswith("vmfwupdate test: waiting to test: another vmfwupdate is using")
        assert f"pid {builder.pid} " in line and "build exclusive" in line
        time.sleep(0.5)
        assert tester.poll() is None  # still waiting
        builder.kill()  # however the holder ends, the kernel frees the lock
        assert first_line(tester).endswith("is free, going on")
        assert first_line(tester) == "holding"
        assert tester.wait(timeout=DEADLINE) == 0
    finally:
        builder.kill()
        builder.wait(timeout=DEADLINE)


def test_readers_share_the_lock(tmp_path: Path) -> None:
    first = hold(tmp_path, "test", "shared", DEADLINE)
    try:
        assert first_line(first) == "holding"
        second = hold(tmp_path, "run", "shared", 0)
        assert first_line(second) == "holding"  # no wait
        assert second.wait(timeout=DEADLINE) == 0
    finally:
        first.kill()
        first.wait(timeout=DEADLINE)


def test_each_run_has_its_own_log_directory(tmp_path: Path) -> None:
    script = "import sys; from pathlib import Path; from harness.workflows.run_logs import "
    script += "new_run_dir; print(new_run_dir(Path(sys.argv[1])))"
    runs = [
        subprocess.run(
            [sys.executable, "-c", script, str(tmp_path)],
            capture_output=True,
            text=True,
            check=True,
            timeout=DEADLINE,
        ).stdout.strip()
        for _ in range(2)
    ]
    assert runs[0] != runs[1] and all(Path(r).is_dir() for r in runs)
    assert (tmp_path / LATEST).resolve() == Path(runs[1]).resolve()
    mine = new_run_dir(tmp_path)  # this process is alive: its run is never pruned
    assert prune(tmp_path, keep=0) == [Path(r) for r in runs]
    assert mine.is_dir()
