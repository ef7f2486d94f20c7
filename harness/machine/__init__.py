"""One QEMU process: its command line, lifecycle, QMP, serial console, sanitizers, host probes."""
