"""An interrupted `vmfwupdate test`: pytest and its xdist workers get one SIGINT, print
their summary and exit before the toolkit does (real processes, real signals)."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

DEADLINE = 30.0
SLOW_TESTS = textwrap.dedent(
    """
    import time
    from pathlib import Path

    def test_quick():
        pass

    def test_slow(tmp_path):
        Path(__file__).with_name("started").touch()
        time.sleep(60)
    """
)
# what `vmfwupdate test` does with its pytest command, in a process of its own
DRIVER = textwrap.dedent(
    """
    import signal, sys
    from pathlib import Path
    from harness import children
    from harness.cli import interrupted
    signal.signal(signal.SIGTERM, interrupted)
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "2", sys.argv[1]]
    try:
        children.run_tests(cmd, cwd=Path(sys.argv[1]))
    except KeyboardInterrupt:
        print("DRIVER: interrupted", flush=True)
        sys.exit(130)
    """
)


def test_interrupted_test_run_keeps_pytest_summary(tmp_path: Path) -> None:
    (tmp_path / "test_sample.py").write_text(SLOW_TESTS)
    proc = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        end = time.monotonic() + DEADLINE
        while not (tmp_path / "started").exists():
            assert time.monotonic() < end, "the slow test did not start"
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)  # the toolkit alone, as `kill` or a CI timeout does
        out, _ = proc.communicate(timeout=DEADLINE)
    finally:
        proc.kill()
        proc.wait(timeout=DEADLINE)
    assert proc.returncode == 130  # noqa: PLR2004 (the toolkit's exit status on a signal)
    summary = out.index("KeyboardInterrupt")
    assert "1 passed" in out[summary:], out  # pytest's own summary line
    assert out.rstrip().endswith("DRIVER: interrupted"), out  # nothing after the toolkit
