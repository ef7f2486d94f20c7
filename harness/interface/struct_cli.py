"""``vmfwupdate struct``: arm, cancel, lock or restore by hand at the agent's console, and read
the structure back, by field names (`harness.interface.v7_console`).

``cli.py`` calls :func:`add_commands` with its subparsers; :func:`dispatch` runs the command.
"""

from __future__ import annotations

import argparse
import sys
from itertools import pairwise

from harness.errors import HarnessError, ProtocolViolation
from harness.interface import v7, v7_console
from harness.interface.v7_struct import Fields
from harness.runner import Runner
from harness.workdir import DEFAULT_SERIES, SERIES, Workdir

COMMANDS = ("struct",)


def number(text: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r} (e.g. 0x20000)") from None


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "struct",
        help="the console line that arms, cancels, locks or restores (v7), and a "
        "'data ...' line decoded by field names",
    )
    p.add_argument(
        "--series",
        choices=SERIES,
        default=None,
        help=f"the device ABI (default: $SERIES, else {DEFAULT_SERIES}); only v7 has a structure",
    )
    p.add_argument(
        "-v", "--verbose", action="count", default=argparse.SUPPRESS, help="(runs no command)"
    )
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    arm = actions.add_parser("arm", help="arm an image in guest RAM for the next cold reset")
    arm.add_argument("--addr", type=number, required=True, help="the image's guest address")
    arm.add_argument("--size", type=number, required=True, help="its size (64 KiB multiple)")
    arm.add_argument("--trial", action="store_true", help="for one boot only (CTL_HOST_FW)")
    arm.add_argument("--lock", action="store_true", help="and lock the interface (CTL_DISABLE)")
    arm.add_argument("--igvm", action="store_true", help="an IGVM image (FORMAT_IGVM)")
    for parser in (arm, actions.add_parser("cancel", help="disarm: a write with no format")):
        parser.add_argument("--opaque-addr", type=number, default=0, help="the opaque range")
        parser.add_argument("--opaque-size", type=number, default=0, help="its size")
    actions.add_parser("lock", help="lock the interface until a restore (CTL_DISABLE)")
    actions.add_parser(
        "restore", help="restore the host's firmware at the next cold reset (CTL_HOST_FW)"
    )
    decode = actions.add_parser(
        "decode", help="the fields of a 'read etc/vmfwupdate' reply (arguments or stdin)"
    )
    decode.add_argument(
        "line",
        nargs="*",
        help="the reply's 'data <hex>' line(s), other words ignored; none: read stdin",
    )


def structure(args: argparse.Namespace) -> Fields:
    if args.action == "arm":
        ctl = v7_console.control(igvm=args.igvm, trial=args.trial, lock=args.lock)
        return Fields().with_guest_fields(
            ctl, args.addr, args.size, args.opaque_addr, args.opaque_size
        )
    if args.action == "cancel":
        return Fields().with_guest_fields(0, 0, 0, args.opaque_addr, args.opaque_size)
    return Fields(control=v7.CTL_DISABLE if args.action == "lock" else v7.CTL_HOST_FW)


def dispatch(args: argparse.Namespace, workdir: Workdir, _runner: Runner) -> int:
    if workdir.series != v7.NAME:
        raise HarnessError(
            "struct",
            f"series {workdir.series} has no structure: its five etc/vmfwupdate/* files are "
            "written one by one",
            hint="at the console: writeq etc/vmfwupdate/bios-size SIZE, then writeq "
            "etc/vmfwupdate/bios-addr ADDR (docs/console.md)",
        )
    if args.action == "decode":
        words = (" ".join(args.line) if args.line else sys.stdin.read()).split()
        try:
            fields = v7_console.decode(
                [f"data {w}" for prev, w in pairwise(words) if prev == "data"]
            )
        except (ValueError, ProtocolViolation) as exc:
            raise HarnessError(
                "struct",
                f"not a read of {v7.FILE}: {exc}",
                hint=f"paste the agent's reply to `read {v7.FILE}`: its 'data <128 hex>' line",
            ) from exc
        print("\n".join(v7_console.describe(fields)))
        return 0
    fields = structure(args)
    print(v7_console.write_line(fields))
    print("\n".join("# " + line for line in v7_console.describe(fields)), file=sys.stderr)
    print(f"# then `read {v7.FILE}`: status 0 (OK) and these fields mean accepted", file=sys.stderr)
    return 0
