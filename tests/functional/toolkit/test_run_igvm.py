"""`vmfwupdate run --boot igvm`: the agent wrapped by the pinned igvm-wrap and QEMU started
from that IGVM file (no -bios) with the device; the agent boots (its banner: the top of
4 GiB, its CRC32 the raw image's), the device reads as on a guest started from an IGVM
file (`fw_rom_size` 0, FORMAT_IGVM only), and the guest's `exit` ends the run with
QEMU's status. Console on a pipe (stdin and stdout), on a checkout of its own as
test_run_terminal.py, with this checkout's IGVM tools (.work/igvm)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from test_run_terminal import CLI, REPO

from harness.build.agent_image import build_agent
from harness.interface import v7
from harness.interface.abis import abi
from harness.interface.encoding import crc32
from harness.interface.v7_struct import Fields
from harness.machine.cmdline import debug_exit_status
from harness.platform import FIRMWARE_TOP

AGENT_SIZE = 0x40000
EXIT_VALUE = 5
DEADLINE = 60.0


def test_run_boot_igvm(checkout: Path, binary: Path, series: str) -> None:
    if not abi(series).igvm_guests:
        pytest.skip(
            f"series {series}: its ABI declaration offers the device to no guest started "
            "from an IGVM file (igvm_guests; v7 does, section 'IGVM images')"
        )
    # igvm-wrap from this checkout's prefix (make setup); the agent built in the other one
    (checkout / ".work").mkdir()
    (checkout / ".work" / "igvm").symlink_to(REPO / ".work" / "igvm")
    argv = [sys.executable, "-c", CLI, str(checkout), "run", "--series", series, "--boot"]
    argv += ["igvm", "--no-build", "--build-dir", str(binary.parent)]
    read = f"read {v7.FILE}\n"
    with subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line.rstrip("\r\n"))
            if line.startswith("READY"):
                break
        proc.stdin.write(read)
        proc.stdin.flush()
        data = ""
        for line in proc.stdout:
            lines.append(line.rstrip("\r\n"))
            if line.startswith("data "):
                data += line.split()[1]
            if line.startswith("OK"):
                break
        proc.stdin.write(f"exit {EXIT_VALUE}\n")
        proc.stdin.flush()
        rest, _ = proc.communicate(timeout=DEADLINE)
    output = "\n".join(lines) + "\n" + rest
    assert proc.returncode == debug_exit_status(EXIT_VALUE), output
    cmdline = next(line for line in lines if "qemu-system-x86_64" in line)
    assert "igvm-cfg=igvm0" in cmdline and "-bios" not in cmdline.split(), cmdline
    agent = build_agent(AGENT_SIZE, "run", checkout / ".work" / "payloads" / "run")
    banner = next(line for line in lines if line.startswith("VMFWAGENT"))
    want = f"rom-base={FIRMWARE_TOP - AGENT_SIZE:#010x} rom-size={AGENT_SIZE:#010x} "
    assert want in banner, banner
    assert f"crc32={crc32(Path(agent).read_bytes()):#010x}" in banner, banner
    fields = Fields.unpack(bytes.fromhex(data))
    assert (fields.fw_rom_size, fields.capabilities) == (0, v7.FORMAT_IGVM), fields
