"""vmfwupdate-harness: fetch, patch, build and test QEMU with the vmfwupdate series.

The package logs through ``logging.getLogger(__name__)`` in each module and
attaches no handler of its own beyond a NullHandler: the CLI (`harness.cli`)
and pytest decide where messages go.
"""

import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())
