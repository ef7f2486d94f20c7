"""The guest agent's protocol limits and formats (harness/agent/PROTOCOL.md), declared once.

The Python client (`harness.guest.agent_client`) uses these names; the C
agent gets them through `agent_protocol.h`, which `c_header()` renders and
the agent build (`harness.build.agent_image`) writes next to the objects.
"""

from __future__ import annotations

from harness.platform import KIB, MIB, VGA_HOLE

# Longest command line the agent reads; a longer one is answered ERR line-too-long.
MAX_LINE = 8300
# Bytes per `write`/`mwrite` command (hex-encoded they fit a line with the command word and
# a file name), and the agent's DMA chunk.
MAX_WRITE_BYTES = 4096
# The agent's own RAM is [0, MEMORY_END): `mwrite`/`mfill`/`load` refuse it.
MEMORY_END = VGA_HOLE
# Largest file `read` streams, largest `mread`, bytes per `data` line.
READ_MAX = 1 * MIB
MREAD_MAX = 16 * MIB
DATA_PER_LINE = 64
# Identity strings in the banner: 1..IDENTITY_MAX characters of IDENTITY_CHARS.
IDENTITY_MAX = 32
IDENTITY_CHARS = "A-Za-z0-9._-"
BANNER_MAGIC = "VMFWAGENT v1"
READY = "READY"
# Resets the agent does itself (`reset <method>`); "qmp" is the host's system_reset.
GUEST_RESET_METHODS = ("cf9", "kbd", "triple")
HOST_RESET_METHOD = "qmp"
# The agent's ERR word when the fw_cfg DMA control word reports an error (fw_cfg itself
# refused the transfer: a read-only file, a write past the end, a source that is not memory).
DMA_ERROR = "dma-error"
RESET_METHODS = (*GUEST_RESET_METHODS, HOST_RESET_METHOD)
# Port I/O (`in`, `out`): the highest port (x86 ports are 16-bit) and the width word of each
# access size in bytes (inb/inw/inl, outb/outw/outl).
PORT_MAX = 0xFFFF
PORT_WIDTHS: dict[int, str] = {1: "b", 2: "w", 4: "l"}
# The agent's commands and their usage, as `help` lists them (one `command` line each).
COMMANDS: dict[str, str] = {
    "help": "help",
    "info": "info",
    "files": "files",
    "read": "read <name>",
    "readq": "readq <name>",
    "write": "write <name> <hex bytes>",
    "writeq": "writeq <name> <value>",
    "writeb": "writeb <name> <value>",
    "load": "load <name> <addr>",
    "mread": "mread <addr> <len>",
    "mwrite": "mwrite <addr> <hex bytes>",
    "mfill": "mfill <addr> <len> <byte>",
    "crc": "crc <addr> <len>",
    "in": f"in <port> {'|'.join(PORT_WIDTHS.values())}",
    "out": f"out <port> {'|'.join(PORT_WIDTHS.values())} <value>",
    "reset": f"reset {'|'.join(GUEST_RESET_METHODS)}",
    "exit": "exit <code>",
}
HELP_LINE = "command"
# Where tests load a next image: above the agent's memory and the BIOS area.
LOAD_ADDR = 16 * MIB
# An agent image: 64 KiB .. 16 MiB in 64 KiB steps.
IMAGE_MIN_SIZE = 64 * KIB
IMAGE_MAX_SIZE = 16 * MIB
IMAGE_SIZE_STEP = 64 * KIB


def banner_line(identity: str, rom_base: int, rom_size: int, crc32: int) -> str:
    """The boot banner the agent prints for these facts."""
    return (
        f"{BANNER_MAGIC} identity={identity} rom-base=0x{rom_base:08x} "
        f"rom-size=0x{rom_size:08x} crc32=0x{crc32:08x}"
    )


BANNER_PATTERN = (
    rf"{BANNER_MAGIC} identity=(?P<identity>[{IDENTITY_CHARS}]{{1,{IDENTITY_MAX}}}) "
    r"rom-base=0x(?P<base>[0-9a-fA-F]{8}) rom-size=0x(?P<size>[0-9a-fA-F]{8}) "
    r"crc32=0x(?P<crc>[0-9a-fA-F]{8})"
)


def c_header() -> str:
    """`agent_protocol.h`: the same limits for the C agent."""
    defines = {
        "AGENT_LINE_MAX": f"{MAX_LINE}u",
        "AGENT_CHUNK": f"{MAX_WRITE_BYTES}u",
        "AGENT_MEM_END": f"{MEMORY_END:#x}u",
        "AGENT_READ_MAX": f"{READ_MAX:#x}u",
        "AGENT_MREAD_MAX": f"{MREAD_MAX:#x}u",
        "AGENT_DATA_PER_LINE": f"{DATA_PER_LINE}u",
        "AGENT_BANNER_MAGIC": f'"{BANNER_MAGIC}"',
        "AGENT_READY": f'"{READY}"',
        **{f"AGENT_RESET_{m.upper()}": f'"{m}"' for m in GUEST_RESET_METHODS},
        "AGENT_PORT_MAX": f"{PORT_MAX:#x}u",
        **{f"AGENT_PORT_WIDTH_{size}": f'"{word}"' for size, word in PORT_WIDTHS.items()},
        # Each command's usage line, for its own `ERR bad-argument usage: ...` reply.
        **{f"AGENT_USAGE_{name.upper()}": f'"{usage}"' for name, usage in COMMANDS.items()},
    }
    body = "".join(f"#define {name} {value}\n" for name, value in defines.items())
    # An X-macro: the command table (main.c) and `help` come from COMMANDS.
    entries = " \\\n".join(f'\tX({name}, "{usage}")' for name, usage in COMMANDS.items())
    body += f'#define AGENT_HELP_LINE "{HELP_LINE}"\n#define AGENT_COMMANDS(X) \\\n{entries}\n'
    return (
        "/* Generated from harness/guest/protocol.py at agent build time: do not edit. */\n"
        "#ifndef AGENT_PROTOCOL_H\n#define AGENT_PROTOCOL_H\n"
        f"{body}#endif\n"
    )
