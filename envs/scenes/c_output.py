"""Send what simulator C code prints on stdout/stderr to logging instead (PyBullet's banners).

PyBullet prints ``pybullet build time: ...`` (stderr) when imported and ``argv[0]=`` (stdout) on
every connection, from C, where ``sys.stdout`` redirection cannot reach. :func:`c_output_to_log`
points file descriptors 1 and 2 at a temporary file for the duration of a block, then logs what
was written there at DEBUG. Keep the blocks short: everything the process prints inside them is
captured.
"""

import ctypes
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

_libc = ctypes.CDLL(None)


@contextmanager
def c_output_to_log(logger: logging.Logger) -> Iterator[None]:
    """Capture C-level stdout and stderr inside the block and log them (DEBUG) afterwards."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    with tempfile.TemporaryFile() as captured:
        for fd in saved:
            os.dup2(captured.fileno(), fd)
        try:
            yield
        finally:
            _libc.fflush(None)  # C stdio buffers must reach the file before the fds are restored
            for fd, original in saved.items():
                os.dup2(original, fd)
                os.close(original)
            captured.seek(0)
            text = captured.read().decode(errors="replace").strip()
            if text:
                logger.debug("%s", text)
