"""vmfwupdate-harness: fetch, patch, build and test QEMU with the vmfwupdate series."""

__version__ = "0.1.0"
