"""The IGVM files of the v7 IGVM seeds, made with the pinned igvm-wrap
(`harness.build.igvm_images.wrap`): the agent (a 64 KiB image, built like the functional
tests' agents), Debian's SeaBIOS and OVMF, each wrapped once per option and kept in
``<out_dir>`` (reused while input, options and tool stay the same)."""

from __future__ import annotations

from pathlib import Path

from harness.build.agent_image import build_agent
from harness.build.igvm import Layout
from harness.build.igvm_images import Wrap, wrap
from harness.fuzz.seeds_v7_igvm import IgvmSeedFiles
from harness.platform import KIB

SEABIOS = Path("/usr/share/seabios/bios-256k.bin")
OVMF = Path("/usr/share/ovmf/OVMF.fd")
AGENT_SIZE = 64 * KIB
AGENT_IDENTITY = "fuzz-igvm"


def make(out_dir: Path, layout: Layout) -> IgvmSeedFiles:
    agent = build_agent(AGENT_SIZE, AGENT_IDENTITY, out_dir)

    def wrapped(image: Path, kind: Wrap = Wrap.PLAIN) -> bytes:
        return wrap(image, out_dir, kind, layout=layout).read_bytes()

    return IgvmSeedFiles(
        agent=wrapped(agent),
        agent_vp_context=wrapped(agent, Wrap.FLAT32),
        agent_native_and_snp=wrapped(agent, Wrap.NATIVE_AND_SNP),
        agent_snp_only=wrapped(agent, Wrap.SNP_ONLY),
        seabios=wrapped(SEABIOS),
        seabios_vp_context=wrapped(SEABIOS, Wrap.FLAT32),
        ovmf=wrapped(OVMF),
    )
