"""The front page and docs/ name only commands, options and paths that exist today.

Every fenced ``sh`` block of README.md, bench/README.md and docs/*.md is split into its
commands, and each is checked against the real thing: ``vmfwupdate`` command lines are parsed
by the toolkit's own parser, make targets and variables are looked up in the Makefile, other
tools' options in their ``--help`` output. Every path the pages name (in backticks or as a
link) exists in this repository, is a documented ``.work/`` path, or is a QEMU-tree path
(touched by a patch of the series, or listed below); every link's #anchor is a heading.
"""

from __future__ import annotations

import functools
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import make_parser

REPO = Path(__file__).resolve().parents[2]
PAGES = [REPO / "README.md", REPO / "bench" / "README.md", *sorted((REPO / "docs").glob("*.md"))]
README_MAX_LINES = 150
FENCE = re.compile(r"^```(\S*)\n(.*?)^```", re.M | re.S)
SHELL = "sh"
SERIES = ("v6", "v7")
# .work/ is made by the toolkit: the paths pages may name (harness/workdir.py, per series)
WORK = re.compile(
    r"^\.work(?:/(?:<series>|\$SERIES|v6|v7)(?:/(?:src(?:/qemu-[\w.<>]+)?|build(?:/[\w<>]+)?"
    r"|logs|fuzz)(?:/.*)?)?/?"
    r"|/(?:outgoing|b4|payloads|downloads|durations|bench|igvm|fuzz-libigvm)(?:/.*)?)?$"
)
# files the toolkit reads when present
OPTIONAL = {"patches/<series>/series"}  # the order of the patches (harness/tree/patchfile.py)
# QEMU-tree paths the pages name that no patch of the series touches
QEMU_TREE_PATHS = {
    "scripts/checkpatch.pl",
    "scripts/get_maintainer.pl",
    "docs/devel/testing/fuzzing.rst",
    "tests/functional/qemu_test",
    "tests/functional/x86_64/",
    "tests/qtest/",
    "tests/qtest/*.c",
    "python/qemu",
    "pc-bios/meson.build",
    "pc-bios/optionrom",
    "scripts/oss-fuzz/instrumentation-filter-template",
}
# tools the pages show how to install, not installed here: their options are not checked
NOT_INSTALLED = {"npm": "Node.js, for gitlab-ci-local", "gitlab-ci-local": "installed by npm"}


def fences(page: Path) -> list[tuple[str, str]]:
    return FENCE.findall(page.read_text(encoding="utf-8"))


def commands(block: str) -> list[list[str]]:
    """The simple commands of a shell block: continuation lines joined, comments dropped,
    split at ``&&``, ``;`` and ``|``, leading ``VAR=value`` assignments dropped."""
    found = []
    for line in block.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        current: list[str] = []
        for word in [*words, "&&"]:
            if word in ("&&", ";", "|", "||"):
                while current and re.fullmatch(r"[A-Z_]+=.*", current[0]):
                    current.pop(0)
                if current:
                    found.append(current)
                current = []
            else:
                current.append(word)
    return found


def options(argv: list[str]) -> list[str]:
    """The options of a command line (before ``--``), without their ``=value``."""
    words = argv[: argv.index("--")] if "--" in argv else argv
    return [w.split("=", 1)[0] for w in words if re.fullmatch(r"--?[A-Za-z][\w-]*(=.*)?", w)]


@functools.cache
def help_text(*cmd: str) -> str:
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False)
    return proc.stdout + proc.stderr


def missing_options(argv: list[str], *help_cmd: str) -> list[str]:
    text = help_text(*help_cmd)
    return [o for o in options(argv) if not re.search(rf"(?<![\w-]){re.escape(o)}(?![\w-])", text)]


@functools.cache
def makefile() -> tuple[set[str], set[str]]:
    text = (REPO / "Makefile").read_text(encoding="utf-8")
    targets = {t for line in re.findall(r"^([\w .-]+):(?!=)", text, re.M) for t in line.split()}
    variables = set(re.findall(r"\$\((\w+)\)", text)) | set(
        re.findall(r"^(\w+)\s*\??=", text, re.M)
    )
    return targets, variables


def check_command(argv: list[str]) -> str | None:
    """None if the command line is one that works on today's tree, else why not."""
    tool, args = argv[0], argv[1:]
    name = Path(tool).name
    if name in ("cd", "export", "$EDITOR"):
        return None
    if name == "make":
        targets, variables = makefile()
        bad = [a for a in args if "=" not in a and a not in targets]
        bad += [a for a in args if "=" in a and a.split("=")[0] not in variables]
        return f"no make target or variable {bad}" if bad else None
    if name == "vmfwupdate" or args[:2] == ["-m", "harness"]:
        try:
            make_parser().parse_args(args[2:] if args[:2] == ["-m", "harness"] else args)
        except SystemExit:
            return "the vmfwupdate parser refuses it"
        return None
    if name in ("python", "python3") and args[:1] == ["-m"]:
        module = args[1]
        paths = [a for a in args[2:] if (REPO / a.split("::")[0]).exists()]
        bad = missing_options(args[2:], sys.executable, "-m", module, *paths, "--help")
        return f"{module} has no option {bad}" if bad else None
    if name == "pytest":
        return check_command(["python", "-m", "pytest", *args])
    if name == "bash":
        return None if (REPO / args[0]).is_file() else f"no script {args[0]}"
    if name == "qemu-fuzz-x86_64":  # the fuzz build's binary: a fuzz target and inputs
        bad = [a for a in [tool, *args] if not (a.startswith("--fuzz-target=") or WORK.match(a))]
        return f"not a fuzz target or a .work path: {bad}" if bad else None
    if name == "apt-get":
        if not any(Path("/var/lib/apt/lists").glob("*_Packages")):  # no package lists here
            return None if args[0] in help_text(tool, "--help") else f"no apt-get {args[0]}"
        # the command itself, simulated: its options and package names
        proc = subprocess.run([tool, "--simulate", *args], capture_output=True, check=False)
        return None if proc.returncode == 0 else f"apt-get refuses it: {proc.stderr[-200:]!r}"
    if name in ("git", "b4", "npm", "gitlab-ci-local", "qmp-shell"):
        if shutil.which(tool) is None and not (REPO / tool).is_file():
            return None if name in NOT_INSTALLED else f"{tool} is not installed"
        sub = [a for a in args[:1] if not a.startswith("-")] if name in ("git", "b4", "npm") else []
        bad = missing_options(args, tool, *sub, "-h" if name == "git" else "--help")
        return f"{name} has no option {bad}" if bad else None
    return f"unknown command {tool!r}: teach tests/unit/test_docs.py how to check it"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_shell_command_works_on_todays_tree(page: Path) -> None:
    blocks = fences(page)
    assert all(lang for lang, _ in blocks), f"{page}: a fenced block without a language"
    failures = [
        f"{shlex.join(argv)}: {why}"
        for lang, block in blocks
        if lang == SHELL
        for argv in commands(block)
        if (why := check_command(argv)) is not None
    ]
    assert not failures, "\n".join(failures)


@functools.cache
def patched_paths() -> set[str]:
    found: set[str] = set()
    for patch in REPO.glob("patches/*/*.patch"):
        text = patch.read_text(encoding="utf-8", errors="replace")
        found |= set(re.findall(r"^(?:\+\+\+ b|--- a)/(\S+)", text, re.M))
    return found


def named_paths(page: Path) -> set[str]:
    """Repository-looking paths in backticks, in fenced shell commands and as link targets."""
    text = page.read_text(encoding="utf-8")
    roots = {p.name for p in REPO.iterdir() if not p.name.startswith(".git")} - {".venv"}
    words = [w for span in re.findall(r"`([^`\n]+)`", text) for w in span.split()]
    words += [w for lang, b in fences(page) if lang == SHELL for c in commands(b) for w in c]
    return {
        w.rstrip(".,:;)")
        for w in words
        if w.split("/")[0] in roots and ("/" in w or w in roots) and "://" not in w
    }


def path_exists(path: str) -> bool:
    if path in OPTIONAL:
        return True
    if path.startswith(".work"):
        return WORK.match(path) is not None
    if "<series>" in path:
        return all(path_exists(path.replace("<series>", s)) for s in SERIES)
    pattern = re.sub(r"<[^>]+>", "*", path)
    braces = re.fullmatch(r"(.*)\{([^}]*)\}(.*)", pattern)
    if braces:
        return all(path_exists(braces[1] + alt + braces[3]) for alt in braces[2].split(","))
    if any(REPO.glob(pattern.rstrip("/"))):
        return True
    return path.rstrip("/") in patched_paths() or path in QEMU_TREE_PATHS


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_named_path_exists(page: Path) -> None:
    missing = sorted(p for p in named_paths(page) if not path_exists(p))
    assert not missing, f"{page.relative_to(REPO)} names paths that do not exist: {missing}"


def anchors(page: Path) -> set[str]:
    headings = re.findall(r"^#+ (.+)$", page.read_text(encoding="utf-8"), re.M)
    return {re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-") for h in headings}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_link_reaches_a_file_and_heading(page: Path) -> None:
    bad = []
    for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text(encoding="utf-8")):
        if "://" in target:
            continue
        file, _sep, anchor = target.partition("#")
        linked = (page.parent / file).resolve() if file else page
        if not linked.exists() or (anchor and anchor not in anchors(linked)):
            bad.append(target)
    assert not bad, f"{page.relative_to(REPO)}: broken links {bad}"


def test_readme_fits_a_screen_and_is_not_dated() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= README_MAX_LINES
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b", text), "dated figures belong in docs/"


def test_the_checks_catch_a_renamed_option_and_a_stale_path() -> None:
    """The checkers above refuse what a stale page would say."""
    assert check_command(["vmfwupdate", "send", "--smtp-server", "x"]) is not None
    assert check_command(["vmfwupdate", "struct", "--series", "v7", "arm", "--addr", "1"])
    assert check_command(["make", "check-vmfwupdate", "SLOWER=1"]) is not None
    assert check_command(["python", "-m", "pytest", "tests/functional", "--no-such"]) is not None
    assert check_command(["frobnicate"]) is not None
    assert check_command([".work/v7/build/fuzz/qemu-fuzz-x86_64", "/tmp/input"]) is not None
    assert not path_exists(".work/build/default/qemu-system-x86_64")
    assert not path_exists(".work/src/qemu-10.2.2")
    assert not path_exists("harness/posting/maintainers.py")
    assert path_exists(".work/<series>/build/default/qemu-system-x86_64")
    assert path_exists("harness/interface/v7_struct.py")
