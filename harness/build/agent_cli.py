"""``python -m harness.build.agent_cli --size 0x10000 --identity a --out DIR``: build one image."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from harness.build.agent_image import build_agent_image
from harness.errors import AgentBuildError


def _parse_size(text: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a number: {text!r} (e.g. 0x10000 or 65536)"
        ) from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m harness.build.agent_cli",
        description="Build a guest agent firmware image.",
    )
    parser.add_argument(
        "--size",
        type=_parse_size,
        required=True,
        help="image size, 64 KiB .. 16 MiB in 64 KiB steps",
    )
    parser.add_argument(
        "--identity", required=True, help="identity string in the banner ([A-Za-z0-9._-], max 32)"
    )
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("-v", "--verbose", action="store_true", help="print the commands run")
    args = parser.parse_args(argv)
    try:
        image = build_agent_image(args.size, args.identity, args.out, verbose=args.verbose)
    except AgentBuildError as exc:
        print(exc.render(), file=sys.stderr)
        return 1
    state = "built" if image.rebuilt else "up to date"
    print(
        f"{image.path} size={image.size:#x} crc32=0x{image.crc32:08x} "
        f"({state}, {image.seconds:.2f}s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
