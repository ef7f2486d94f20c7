"""What the functional tests do to a booted VM and the facts they read back.

Helpers here either return facts (`reset` returns the next banner and who
reset, `load` what the guest loaded, `xp_bytes` host-side memory) and leave
the checks to the test, or are named `assert_*` and check exactly what
their name and docstring say.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from harness.guest.agent_client import AgentClient, Banner
from harness.guest.protocol import HOST_RESET_METHOD, LOAD_ADDR
from harness.interface.device import DeviceView
from harness.interface.encoding import U64_BYTES, crc32
from harness.interface.memory_map import RamMap, parse_flatview_ram
from harness.machine.vm import VM
from harness.platform import FIRMWARE_TOP

# The fw_cfg blob the next image comes in, when a test stages one image.
STAGE2_BLOB = "opt/vmfwtest/stage2"
STAGE2 = "stage2"
NONCE_TAG_BYTES = 16
NONCE_RANDOM_BYTES = 48


@dataclass(frozen=True)
class ResetOutcome:
    """What a reset led to: the banner of the firmware that booted next, and QMP's RESET."""

    banner: Banner
    # The RESET event's `guest` flag: True when the guest reset the machine itself.
    guest: bool


def reset(vm: VM, method: str) -> ResetOutcome:
    """Reset by `method` (guest: cf9/kbd/triple, host: qmp); the next banner and RESET event."""
    mark = vm.qmp.mark()
    if method == HOST_RESET_METHOD:
        vm.qmp.cmd("system_reset")
        banner = vm.agent.wait_banner()
    else:
        banner = vm.agent.reset(method)
    event = vm.qmp.wait_event("RESET", mark)
    return ResetOutcome(banner, bool(event["data"]["guest"]))


def assert_runs(banner: Banner, image: Path, identity: str) -> None:
    """The running firmware is `image`: identity, placement below 4 GiB and CRC32 agree."""
    data = image.read_bytes()
    assert banner.identity == identity, f"booted {banner.identity!r}, expected {identity!r}"
    assert banner.rom_size == len(data), f"rom-size {banner.rom_size:#x} != {len(data):#x}"
    assert banner.rom_base == FIRMWARE_TOP - len(data), f"rom-base {banner.rom_base:#x}"
    assert banner.crc32 == crc32(data), (
        f"guest CRC32 of its ROM {banner.crc32:#010x} != host CRC32 of {image.name} "
        f"{crc32(data):#010x}"
    )


@dataclass(frozen=True)
class Loaded:
    """What the guest loaded into RAM: size and CRC32 as it computed them."""

    addr: int
    size: int
    crc32: int


def load(agent: AgentClient, blob: str, addr: int = LOAD_ADDR) -> Loaded:
    """From inside the guest: DMA the fw_cfg blob `blob` into RAM at `addr`."""
    size, crc = agent.load(blob, addr)
    return Loaded(addr, size, crc)


def image_facts(image: Path, addr: int = LOAD_ADDR) -> Loaded:
    """What `load` must report for `image` at `addr`."""
    data = image.read_bytes()
    return Loaded(addr, len(data), crc32(data))


def assert_staged(
    device: DeviceView, agent: AgentClient, blob: str, image: Path, addr: int = LOAD_ADDR
) -> None:
    """Load `blob` (which holds `image`) at `addr` and arm it: asserts that the guest loaded
    exactly `image` and that the device reads back that image as armed."""
    loaded = load(agent, blob, addr)
    assert loaded == image_facts(image, addr), f"load {blob}: {loaded}"
    state = device.arm(addr, loaded.size)
    assert state.armed == (addr, loaded.size), f"arming {blob} at {addr:#x}: {state}"


def nonce(tag: str) -> bytes:
    """Random bytes for the opaque memory, tagged for the transcript."""
    return tag.encode()[:NONCE_TAG_BYTES].ljust(NONCE_TAG_BYTES, b"-") + os.urandom(
        NONCE_RANDOM_BYTES
    )


def status(vm: VM) -> str:
    """QEMU's run state (`query-status`), e.g. "running"."""
    return str(vm.qmp.cmd("query-status")["status"])


def assert_alive(vm: VM) -> None:
    """QEMU answers QMP and the guest runs."""
    assert status(vm) == "running", f"VM not running: {status(vm)}"


def xp_bytes(vm: VM, addr: int, count: int) -> bytes:
    """Guest-physical memory read from the host through HMP `xp` (`count` a multiple of 8)."""
    out = vm.qmp.hmp(f"xp /{count // U64_BYTES}xg {addr:#x}")
    words = [
        w
        for line in out.splitlines()
        for w in re.findall(r"0x([0-9a-f]{16})", line.split(":", 1)[-1])
    ]
    data = b"".join(int(w, 16).to_bytes(U64_BYTES, "little") for w in words)
    assert len(data) == count, f"xp returned {len(data)} bytes, wanted {count}: {out!r}"
    return data


def guest_ram(vm: VM) -> RamMap:
    """The guest's RAM ranges as QEMU reports them (`info mtree -f`)."""
    return parse_flatview_ram(vm.qmp.hmp("info mtree -f"))


def enable_device_traces(vm: VM) -> None:
    """Turn on the device's trace events (they go to QEMU's stderr)."""
    vm.qmp.cmd("trace-event-set-state", {"name": "vmfwupdate*", "enable": True})
