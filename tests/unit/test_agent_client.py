"""Unit tests of the agent protocol client (harness.guest.agent_client) over a scripted console."""

from __future__ import annotations

import pytest
from agent_helpers import client

from harness.fw_cfg import FwCfgEntry
from harness.guest import agent_client as a
from harness.guest.protocol import MAX_LINE, MAX_WRITE_BYTES
from harness.interface.v6 import BIOS_ADDR, BIOS_SIZE, CAP, DISABLE, OPAQUE

ROM_SIZE = 0x40000
CRC = 0x0BADF00D

BANNER = "VMFWAGENT v1 identity=stage-1.x rom-base=0xfffc0000 rom-size=0x00040000 crc32=0x1234abcd"


def test_parse_banner() -> None:
    b = a.parse_banner(BANNER)
    assert b == a.Banner("stage-1.x", 0xFFFC0000, 0x40000, 0x1234ABCD)
    with pytest.raises(a.ProtocolViolation):
        a.parse_banner("VMFWAGENT v2 identity=x")


def test_parse_status() -> None:
    assert a.parse_status("OK") == (True, "")
    assert a.parse_status("OK 0x10") == (True, "0x10")
    assert a.parse_status("ERR no-such-file x") == (False, "no-such-file x")
    assert a.parse_status("data 00") is None
    assert a.parse_status("OKAY") is None


def test_parse_data_and_errors() -> None:
    assert a.parse_data(["data 0102", "data ff"]) == b"\x01\x02\xff"
    with pytest.raises(a.ProtocolViolation):
        a.parse_data(["file 0001 8 x"])
    with pytest.raises(a.ProtocolViolation):
        a.parse_data(["data 0g"])


def test_wait_banner_skips_noise() -> None:
    c, _ = client(["garbage", BANNER, "READY"])
    assert c.wait_banner().identity == "stage-1.x"


def test_readq_and_err() -> None:
    c, con = client(["OK 0x0000000000040000", "ERR no-such-file etc/x"])
    assert c.readq(BIOS_SIZE) == ROM_SIZE
    assert con.sent == [f"readq {BIOS_SIZE}"]
    with pytest.raises(a.AgentError) as ei:
        c.readq("etc/x")
    assert ei.value.reason == "no-such-file"
    assert ei.value.detail == "etc/x"


def test_files_count_checked() -> None:
    c, _ = client([f"file 0020 8 {CAP}", "OK 1"])
    assert c.files() == [FwCfgEntry(CAP, 8, 0x20)]
    c, _ = client([f"file 0020 8 {CAP}", "OK 2"])
    with pytest.raises(a.ProtocolViolation):
        c.files()


def test_read_size_checked() -> None:
    c, _ = client(["data 01020304", "OK 4"])
    assert c.read("opt/x") == b"\x01\x02\x03\x04"
    c, _ = client(["data 01020304", "OK 5"])
    with pytest.raises(a.ProtocolViolation):
        c.read("opt/x")


def test_write_commands_format() -> None:
    c, con = client(["OK", "OK", "OK", "OK 65536 crc32=0xdeadbeef", f"OK {CRC:#010x}"])
    c.writeq(BIOS_ADDR, 0x1000000)
    c.writeb(DISABLE, 1)
    c.write(OPAQUE, b"\xab\xcd")
    assert c.load("opt/s2", 0x1000000) == (65536, 0xDEADBEEF)
    assert c.crc(0x100000, 0x10) == CRC
    assert con.sent == [
        f"writeq {BIOS_ADDR} 0x1000000",
        f"writeb {DISABLE} 0x1",
        f"write {OPAQUE} abcd",
        "load opt/s2 0x1000000",
        "crc 0x100000 0x10",
    ]
    with pytest.raises(ValueError):
        c.write("x", b"\x00" * (MAX_WRITE_BYTES + 1))


I440FX_ID = 0x12378086


def test_port_io_commands_format() -> None:
    c, con = client([f"OK {I440FX_ID:#010x}", "OK 0x00", "OK", "OK", "ERR bad-argument q"])
    assert c.port_in(0xCFC, 4) == I440FX_ID
    assert c.port_in(0x80, 1) == 0
    c.port_out(0xCF8, 4, 0x80002810)
    c.port_out(0xCFC, 2, 0x0002)
    assert con.sent == [
        "in 0xcfc l",
        "in 0x80 b",
        "out 0xcf8 l 0x80002810",
        "out 0xcfc w 0x2",
    ]
    with pytest.raises(a.AgentError) as ei:
        c.port_in(0x80, 1)
    assert ei.value.reason == "bad-argument"


@pytest.mark.parametrize(("port", "size"), [(0x10000, 1), (-1, 1), (0x80, 3), (0x80, 8)])
def test_port_io_refuses_bad_port_or_size(port: int, size: int) -> None:
    c, con = client([])
    with pytest.raises(ValueError):
        c.port_in(port, size)
    with pytest.raises(ValueError):
        c.port_out(port, size, 0)
    assert con.sent == []


@pytest.mark.parametrize(("size", "value"), [(1, 0x100), (2, 0x10000), (4, 1 << 32), (1, -1)])
def test_port_out_refuses_a_value_wider_than_the_access(size: int, value: int) -> None:
    c, con = client([])
    with pytest.raises(ValueError):
        c.port_out(0x80, size, value)
    assert con.sent == []


def test_mwrite_splits_long_data() -> None:
    c, con = client(["OK", "OK"])
    c.mwrite(0x100000, b"\x01" * (MAX_WRITE_BYTES + 2))
    assert con.sent[1] == "mwrite 0x101000 0101"
    assert all(len(s) <= MAX_LINE for s in con.sent)


def test_reset_waits_for_next_banner() -> None:
    c, con = client(["resetting kbd", BANNER, "READY"])
    assert c.reset("kbd").rom_size == ROM_SIZE
    assert con.sent == ["reset kbd"]
    c, _ = client(["ERR bad-argument foo"])
    with pytest.raises(a.AgentError):
        c.reset("cf9")
    with pytest.raises(ValueError):
        c.reset("acpi")
