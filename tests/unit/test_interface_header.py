"""Each ABI's Python declaration against the device header of its series, patches/<abi>/.

The header is rebuilt from the patch files themselves (no QEMU tree needed),
so a change to either side that the other does not follow fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.interface.abis import ABIS
from harness.interface.declaration import AbiDeclaration
from harness.interface.hostile_worlds import WORLDS
from harness.interface.trace import AppliedImage, IgvmEvent, applied_images, igvm_events
from harness.interface.views import VIEWS
from harness.tree.patchfile import series_files
from harness.tree.series_header import c_defines, file_from_series
from harness.workdir import Workdir

# VMFWUPDATE_FILE (v7's one file) or VMFWUPDATE_FILE_<NAME> (v6's five).
FILE_MACRO = "VMFWUPDATE_FILE"
FILE_COUNT_MACRO = "VMFWUPDATE_FILE_COUNT"


def series_dir(abi: AbiDeclaration) -> Path:
    """Each device ABI is carried by the patch series of the same name."""
    return Workdir.default(abi.name).patches


def header_defines(abi: AbiDeclaration) -> dict[str, str | int]:
    return c_defines(file_from_series(series_files(series_dir(abi)), abi.header))


@pytest.mark.parametrize("name", list(ABIS))
def test_declared_defines_match_the_header(name: str) -> None:
    abi = ABIS[name]
    header = header_defines(abi)
    wrong = {
        macro: (value, header.get(macro))
        for macro, value in abi.header_defines.items()
        if header.get(macro) != value
    }
    assert not wrong, f"{abi.name}: declared (Python, header) differ: {wrong}"


@pytest.mark.parametrize("name", list(ABIS))
def test_header_has_no_define_the_declaration_lacks(name: str) -> None:
    abi = ABIS[name]
    undeclared = sorted(set(header_defines(abi)) - set(abi.header_defines))
    assert not undeclared, f"{abi.name}: the header defines {undeclared}; declare them"


@pytest.mark.parametrize("name", list(ABIS))
def test_declared_files_are_the_header_files(name: str) -> None:
    abi = ABIS[name]
    header = header_defines(abi)
    in_header = {
        value
        for macro, value in header.items()
        if (macro == FILE_MACRO or macro.startswith(FILE_MACRO + "_")) and macro != FILE_COUNT_MACRO
    }
    declared = {f.name for f in abi.files}
    assert declared == in_header, (
        f"{abi.name}: only declared {sorted(declared - in_header)}, "
        f"only in the header {sorted(in_header - declared)}"
    )
    assert header.get(FILE_COUNT_MACRO, len(declared)) == len(abi.files)


def test_header_reader_applies_later_hunks(tmp_path: Path) -> None:
    create = tmp_path / "0001-add.patch"
    create.write_text(
        "diff --git a/x.h b/x.h\nnew file mode 100644\n--- /dev/null\n+++ b/x.h\n"
        '@@ -0,0 +1,3 @@\n+#define A "a"\n+#define B (1ULL << 3)\n+#define C (2 * KiB)\n'
    )
    change = tmp_path / "0002-change.patch"
    change.write_text(
        "diff --git a/x.h b/x.h\n--- a/x.h\n+++ b/x.h\n"
        '@@ -1,3 +1,3 @@\n #define A "a"\n-#define B (1ULL << 3)\n+#define B 0x10u\n'
        " #define C (2 * KiB)\n"
    )
    text = file_from_series([create, change], "x.h")
    assert c_defines(text) == {"A": "a", "B": 0x10, "C": 2048}


def test_every_abi_has_a_device_view_and_a_hostile_model() -> None:
    assert set(VIEWS) == set(ABIS)
    assert set(WORLDS) == set(ABIS)


def trace_format(abi: AbiDeclaration, event: str | None = None) -> str:
    """The printf format of the ABI's applied-image event (or `event`), as its series
    adds it to hw/misc/trace-events (C string pieces joined, PRIx64/PRId64 as x/d)."""
    event = event or abi.applied_trace
    prefix = f"+{event}("
    for patch in series_files(series_dir(abi)):
        for line in patch.read_text(encoding="utf-8").splitlines():
            if line.startswith(prefix):
                literal = line[line.index(")") + 1 :].strip()
                joined = re.sub(r'"\s*PRI([xd])64\s*"', r"\1", literal)
                return joined.removeprefix('"').removesuffix('"')
    raise AssertionError(f"{abi.name}: no patch adds the trace event {event}")


@pytest.mark.parametrize("name", list(ABIS))
def test_applied_trace_reads_the_series_event(name: str) -> None:
    abi = ABIS[name]
    line = f"4242@1700000000.000001:{abi.applied_trace} " + trace_format(abi) % (
        0x1000000,
        0x40000,
        1234,
    )
    assert applied_images(abi, f"other line\n{line}\n") == [
        AppliedImage(0x1000000, 0x40000, 1234e-6)
    ]


@pytest.mark.parametrize("name", list(ABIS))
def test_igvm_trace_reads_the_series_event(name: str) -> None:
    abi = ABIS[name]
    if abi.igvm_trace is None:
        assert igvm_events(abi, "vmfwupdate_igvm addr 0x1 size 0x2 apply 1: OK in 3 us") == []
        return
    fmt = trace_format(abi, abi.igvm_trace)
    lines = [
        f"4242@1700000000.000001:{abi.igvm_trace} " + fmt % (0x1000000, 0x40000, 0, "OK", 99),
        f"4242@1700000000.000002:{abi.igvm_trace} " + fmt % (0x1000000, 0x40000, 1, "OK", 1234),
    ]
    assert igvm_events(abi, "\n".join(["other line", *lines])) == [
        IgvmEvent(0x1000000, 0x40000, False, "OK", 99e-6),
        IgvmEvent(0x1000000, 0x40000, True, "OK", 1234e-6),
    ]
