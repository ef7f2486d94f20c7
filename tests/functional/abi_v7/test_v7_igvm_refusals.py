"""IGVM images the device refuses, as the guest reads the structure back (v7 interface,
"IGVM images": the write-time checks in their order, and the check again at the reset).

Each runs on both boot kinds: a host started with -bios (the agent) and one started from
the agent's IGVM file. At write time, each refusal changes nothing but `status` (the
read-back is the structure before it with that status), and the host agent still boots at
the next reset:

- over `igvm-max-size` (the property set to what checking the OVMF file takes: its size,
  or the 4 KiB a directive that the device counts before the parse, `held_size`, when that
  is more; one byte more): `BAD_SIZE`; at that limit the checks go on, and OVMF's 2 MiB
  of pages do not
  fit in the host's memory (its 256 KiB ROM region, or on an IGVM host the memory its
  launch made): `BAD_LAYOUT` (a page outside memory);
- not an IGVM file (the agent's own ROM image), a bad checksum (a byte of the variable
  headers changed in RAM), a truncated file (its size less one), a file with no native
  platform (`igvm-wrap --no-native --snp`): `LOAD_FAIL`;
- the opaque range over a page of the file: `BAD_LAYOUT`;
- variable headers whose offset plus size wraps in 32 bits (libigvm 0.5.0 panicked on
  it, aborting QEMU): `LOAD_FAIL`, refused before the parse;
- and the same SeaBIOS file, undamaged, is then taken (`OK`): each refusal had its cause.

At the reset: the agent, wrapped, armed (also on trial), and its bytes changed in RAM
after arming: `APPLY_FAIL`, the firmware unchanged (the host agent boots again), nothing
armed, and no restore of the host's firmware due because of it; the device's trace shows
the reset's own check of the changed bytes failing (`LOAD_FAIL`, apply 1) after the
write's check passed. (The other half, other valid bytes put there after arming, which
the reset applies: test_v7_igvm_bounds.py.)

What igvm-wrap cannot make from these inputs, and so is not here: a page over the image's
own range (igvm-wrap's pages lie at the top of 4 GiB and in its 128 KiB below 1 MiB, where
an image range is not guest RAM on a -bios guest, so it is `BAD_RANGE` first), and a
confidential page type for the native platform (igvm-wrap gives secrets and CPUID pages to
SEV-SNP only); QEMU's qtest covers both with files it writes itself.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from checks import STAGE2, STAGE2_BLOB, assert_runs, load, reset
from firmware import OVMF, SEABIOS, firmware
from igvm_files import IGVM_TRACE, IgvmFiles, assert_igvm_armed, igvm_checks, v7_device
from vms import DEFAULT_IMAGE_SIZE, STAGE1, Booter

from harness.build.igvm_images import Wrap
from harness.guest.agent_client import AgentClient
from harness.guest.protocol import HOST_RESET_METHOD, LOAD_ADDR
from harness.interface.igvm_file import FixedHeader, headers_past_the_end, held_size
from harness.interface.v7 import FORMAT_IGVM, IGVM_MAX_SIZE_PROPERTY, Status
from harness.interface.v7_struct import Fields
from harness.machine.cmdline import DEVICE, device_arg
from harness.platform import FIRMWARE_TOP, KIB

PAGE = 4 * KIB
FLIP = 0xFF
# the fw_cfg blobs the files come in
SEABIOS_BLOB = "opt/vmfwtest/seabios.igvm"
SNP_BLOB = "opt/vmfwtest/snp-only.igvm"
OVMF_BLOB = "opt/vmfwtest/ovmf.igvm"
AGENT_BLOB = "opt/vmfwtest/agent.bin"
WRAP_BLOB = "opt/vmfwtest/headers-wrap.igvm"
WRAP_OFFSET, WRAP_SIZE = 0x18, 0xFFFF_FFF0
TRIAL_IMAGE = 128 * KIB


def flip_byte(agent: AgentClient, addr: int) -> None:
    """Invert the byte at guest address `addr`, from inside the guest."""
    old = agent.mread(addr, 1)
    agent.mwrite(addr, bytes([old[0] ^ FLIP]))


def test_write_time_refusals(igvm_host: Booter, igvm_files: IgvmFiles) -> None:
    seabios = igvm_files.wrap(firmware(SEABIOS, "seabios"))
    snp_only = igvm_files.wrap(SEABIOS, Wrap.SNP_ONLY)
    ovmf = igvm_files.wrap(firmware(OVMF, "ovmf"))
    assert not igvm_files.inspect(snp_only).native
    max_size = max(ovmf.stat().st_size, held_size(ovmf.read_bytes()))
    b = igvm_host(
        blobs={
            SEABIOS_BLOB: seabios,
            SNP_BLOB: snp_only,
            OVMF_BLOB: ovmf,
            AGENT_BLOB: igvm_host.image(DEFAULT_IMAGE_SIZE, STAGE1),
        },
        devices=(device_arg(DEVICE, {IGVM_MAX_SIZE_PROPERTY: str(max_size)}),),
    )
    dev = v7_device(b)
    before = dev.read()

    def write(size: int, opaque: tuple[int, int] = (0, 0)) -> Fields:
        """Arm the IGVM file at LOAD_ADDR with `size` and `opaque`; the read-back."""
        return dev.write(before.with_guest_fields(FORMAT_IGVM, LOAD_ADDR, size, *opaque))

    def refused(code: Status) -> Fields:
        return replace(before, status=code)

    ovmf_size = load(b.agent, OVMF_BLOB).size
    assert write(max_size + 1) == refused(Status.BAD_SIZE)
    assert write(ovmf_size) == refused(Status.BAD_LAYOUT)

    agent_size = load(b.agent, AGENT_BLOB).size
    assert write(agent_size) == refused(Status.LOAD_FAIL), "not an IGVM file"

    size = load(b.agent, SEABIOS_BLOB).size
    assert write(size - 1) == refused(Status.LOAD_FAIL), "truncated"
    header_byte = LOAD_ADDR + FixedHeader.unpack(seabios.read_bytes()).checksummed_byte
    flip_byte(b.agent, header_byte)
    assert write(size) == refused(Status.LOAD_FAIL), "bad checksum"
    flip_byte(b.agent, header_byte)
    reset_vector_page = (FIRMWARE_TOP - PAGE, PAGE)
    assert write(size, reset_vector_page) == refused(Status.BAD_LAYOUT), "over the opaque range"
    taken = write(size)
    assert (taken.status, taken.control, taken.fw_image_size) == (Status.OK, FORMAT_IGVM, size)
    assert dev.cancel().armed is None

    before = dev.read()
    snp_size = load(b.agent, SNP_BLOB).size
    assert write(snp_size) == refused(Status.LOAD_FAIL), "no native platform"

    # Nothing was armed: the host agent boots again.
    assert_runs(reset(b.vm, HOST_RESET_METHOD).banner, b.image, STAGE1)


def test_variable_headers_past_the_end(igvm_host: Booter, tmp_path: Path) -> None:
    """A 32-byte file whose variable headers (0xfffffff0 bytes at 0x18) wrap the 32-bit sum
    libigvm 0.5.0 checks them with: libigvm panicked and QEMU aborted (found by fuzzing
    libigvm); v7 patch 7 refuses it before the parse. `LOAD_FAIL`, and QEMU goes on: the
    host agent boots at the next reset."""
    wrapping = tmp_path / "headers-wrap.igvm"
    wrapping.write_bytes(headers_past_the_end(WRAP_OFFSET, WRAP_SIZE))
    b = igvm_host(blobs={WRAP_BLOB: wrapping})
    dev = v7_device(b)
    before = dev.read()
    size = load(b.agent, WRAP_BLOB).size
    written = dev.write(before.with_guest_fields(FORMAT_IGVM, LOAD_ADDR, size))
    assert written == replace(before, status=Status.LOAD_FAIL)
    assert_runs(reset(b.vm, HOST_RESET_METHOD).banner, b.image, STAGE1)


@pytest.mark.parametrize(
    "trial",
    [pytest.param(False, id="armed", marks=pytest.mark.core), pytest.param(True, id="trial")],
)
def test_bytes_changed_after_arming(igvm_host: Booter, igvm_files: IgvmFiles, trial: bool) -> None:
    igvm = igvm_files.agent(TRIAL_IMAGE, STAGE2)
    b = igvm_host(blobs={STAGE2_BLOB: igvm}, extra_args=IGVM_TRACE)
    dev = v7_device(b)
    size = assert_igvm_armed(b, STAGE2_BLOB, igvm, trial=trial).fw_image_size
    flip_byte(b.agent, LOAD_ADDR + FixedHeader.unpack(igvm.read_bytes()).checksummed_byte)
    # The firmware is unchanged: the host agent boots, not the one armed.
    assert_runs(reset(b.vm, "cf9").banner, b.image, STAGE1)
    # The reset read the bytes again and checked them (libigvm refused them), as the
    # write had checked the bytes then.
    checks = [(e.addr, e.size, e.applied, e.status) for e in igvm_checks(b)]
    assert checks == [
        (LOAD_ADDR, size, False, Status.OK.name),
        (LOAD_ADDR, size, True, Status.LOAD_FAIL.name),
    ]
    after = dev.read()
    assert (after.status, after.control, after.fw_image_addr, after.fw_image_size) == (
        Status.APPLY_FAIL,
        0,  # nothing armed, and no restore due because of the failure (CTL_HOST_FW clear)
        0,
        0,
    )
    assert reset(b.vm, HOST_RESET_METHOD).banner.identity == STAGE1
    assert dev.read().status == Status.OK
