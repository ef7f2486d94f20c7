"""The QEMU source tree and the series: fetch, git, apply/export, patch files, rebase."""
