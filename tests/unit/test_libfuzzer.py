"""libFuzzer command lines and reading its output."""

from __future__ import annotations

from pathlib import Path

from harness.fuzz import libfuzzer

RUNS = 1000000
RATE = 1250
COV = 360


def test_command_names_the_generic_fuzz_target_and_keeps_the_corpus_last() -> None:
    cmd = libfuzzer.command(
        Path("/b/qemu-fuzz-x86_64"),
        "vmfwupdate-pc",
        [Path("/w/corpus"), Path("/w/seeds")],
        Path("/w/crashes"),
        libfuzzer.Limits(seconds=60, runs=1000, timeout=5, max_len=512),
    )
    assert cmd[:2] == ["/b/qemu-fuzz-x86_64", "--fuzz-target=generic-fuzz-vmfwupdate-pc"]
    assert "-artifact_prefix=/w/crashes/" in cmd
    assert {"-max_total_time=60", "-runs=1000", "-timeout=5", "-max_len=512"} <= set(cmd)
    assert cmd[-2:] == ["/w/corpus", "/w/seeds"]


def test_no_limits_means_no_time_or_run_flags() -> None:
    cmd = libfuzzer.command(Path("f"), "vmfwupdate-q35", [Path("c")], Path("a"), libfuzzer.Limits())
    assert not any(arg.startswith(("-runs=", "-max_total_time=", "-detect_leaks")) for arg in cmd)


def test_leaks_only_at_exit() -> None:
    limits = libfuzzer.Limits(leaks_per_input=False)
    assert "-detect_leaks=0" in libfuzzer.command(Path("f"), "x", [Path("c")], Path("a"), limits)


def test_reproducer_is_a_shell_line_with_the_environment() -> None:
    line = libfuzzer.reproducer(
        Path("/b/qemu-fuzz-x86_64"),
        "vmfwupdate-pc",
        Path("/w/crashes/crash-12ab"),
        {"UBSAN_OPTIONS": "halt_on_error=1"},
    )
    assert line == (
        "UBSAN_OPTIONS=halt_on_error=1 /b/qemu-fuzz-x86_64 "
        "--fuzz-target=generic-fuzz-vmfwupdate-pc /w/crashes/crash-12ab"
    )


def test_progress_lines_update_the_status() -> None:
    outcome = libfuzzer.Outcome()
    assert outcome.feed("INFO: Seed: 1234") is None
    first = outcome.feed("#2\tINITED cov: 310 ft: 420 corp: 33/2345b exec/s: 0 rss: 301Mb")
    assert first is not None and (first.event, first.cov, first.ft, first.corpus) == (
        "INITED",
        310,
        420,
        33,
    )
    later = outcome.feed(
        "#65536\tpulse  cov: 350 ft: 600 corp: 40/3Kb lim: 4096 exec/s: 1337 rss: 412Mb"
    )
    assert later is not None and (later.execs, later.rate, later.rss_mb) == (65536, 1337, 412)
    outcome.feed(
        "#70001\tREDUCE cov: 351 ft: 601 corp: 41/3Kb lim: 4096 exec/s: 1300 rss: 413Mb "
        "L: 9/20 MS: 1 EraseBytes-"
    )
    outcome.feed(
        f"#{RUNS}\tDONE   cov: {COV} ft: 650 corp: 45/4Kb lim: 4096 exec/s: {RATE} rss: 420Mb"
    )
    outcome.feed(f"Done {RUNS} runs in 800 second(s)")
    outcome.feed(f"stat::number_of_executed_units: {RUNS}")
    outcome.feed(f"stat::average_exec_per_sec:     {RATE}")
    assert outcome.status.cov == COV and outcome.status.event == "DONE"
    assert (outcome.done_runs, outcome.done_seconds) == (RUNS, 800)
    assert outcome.execs == RUNS and outcome.stats["average_exec_per_sec"] == RATE
    assert not outcome.failed
    assert "1,000,000 execs, 1,250 exec/s, cov 360" in outcome.status.render()


def test_sanitizer_report_and_artifact_make_a_failure() -> None:
    outcome = libfuzzer.Outcome()
    for line in [
        "==4242==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x6020 at pc 0x55",
        "    #0 0x55 in vmfwupdate_write_bios_addr hw/misc/vmfwupdate.c:200:5",
        "SUMMARY: AddressSanitizer: heap-buffer-overflow hw/misc/vmfwupdate.c:200:5",
        "MS: 2 ChangeByte-CopyPart-; base unit: 0123",
        "artifact_prefix='/w/crashes/'; Test unit written to /w/crashes/crash-0badc0de",
    ]:
        outcome.feed(line)
    assert outcome.failed
    assert outcome.artifacts == [Path("/w/crashes/crash-0badc0de")]
    # the report's first line and its summary
    assert [f[:24] for f in outcome.findings] == [
        "==4242==ERROR: AddressSa",
        "SUMMARY: AddressSanitize",
    ]


def test_ubsan_and_timeouts_are_findings() -> None:
    outcome = libfuzzer.Outcome()
    lines = [
        "../hw/misc/vmfwupdate.c:99:12: runtime error: shift exponent 64 is too large",
        "==7== ERROR: libFuzzer: timeout after 25 seconds",
    ]
    for line in lines:
        outcome.feed(line)
    assert len(outcome.findings) == len(lines) and outcome.failed


def test_a_rust_panic_is_a_finding_with_its_place() -> None:
    outcome = libfuzzer.Outcome()
    outcome.feed("invalid header: Some(Some(IGVM_VHS_VARIABLE_HEADER { typ: 1, length: 16 }))")
    assert not outcome.failed
    outcome.feed("thread '<unnamed>' (4227) panicked at src/lib.rs:3399:43:")
    outcome.feed("mid > len")
    outcome.feed("thread 'main' panicked at src/main.rs:36:28:")
    assert outcome.findings == [
        "thread '<unnamed>' (4227) panicked at src/lib.rs:3399:43:",
        "thread 'main' panicked at src/main.rs:36:28:",
    ]


def test_engine_options_alone_for_a_binary_with_one_target() -> None:
    limits = libfuzzer.Limits(runs=10, max_len=1595472)
    options = libfuzzer.engine_options(Path("/w/crashes"), limits)
    assert options[0] == "-artifact_prefix=/w/crashes/"
    assert {"-runs=10", "-max_len=1595472", "-print_final_stats=1"} <= set(options)
    assert not any(o.startswith("--fuzz-target") for o in options)
    line = libfuzzer.replay_line([Path("/t/fuzz"), Path("/w/crashes/crash-1")], {"A": "1 2"})
    assert line == "A='1 2' /t/fuzz /w/crashes/crash-1"


def test_slow_units_are_kept_but_are_not_failures() -> None:
    outcome = libfuzzer.Outcome()
    outcome.feed("Slowest unit: 12 s:")
    outcome.feed("artifact_prefix='/w/c/'; Test unit written to /w/c/slow-unit-77aa")
    assert not outcome.failed
    assert outcome.slow_units == [Path("/w/c/slow-unit-77aa")] and outcome.failures == []
    outcome.feed("artifact_prefix='/w/c/'; Test unit written to /w/c/timeout-88bb")
    assert outcome.failed and outcome.failures == [Path("/w/c/timeout-88bb")]


def test_sanitizer_env_halts_ubsan_and_names_the_symbolizer() -> None:
    assert libfuzzer.sanitizer_env(None) == {"UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1"}
    env = libfuzzer.sanitizer_env("/usr/bin/llvm-symbolizer")
    assert "halt_on_error=1" in env["UBSAN_OPTIONS"]
    assert env["ASAN_OPTIONS"] == "external_symbolizer_path=/usr/bin/llvm-symbolizer"


def test_machine_args_drop_the_targets_own_qtest_options() -> None:
    output = (
        "Matching objects by name fwcfg*\n"
        "Starting x86_64 with Arguments: -display none -machine accel=qtest, -m 512M "
        "-machine pc -nodefaults -m 128M -device vmfwupdate  -qtest /dev/null -qtest-log none\n"
    )
    assert libfuzzer.machine_args(output) == [
        "-display",
        "none",
        "-machine",
        "accel=qtest,",
        "-m",
        "512M",
        "-machine",
        "pc",
        "-nodefaults",
        "-m",
        "128M",
        "-device",
        "vmfwupdate",
    ]
    assert libfuzzer.machine_args("no such line") is None
