"""A loopback port where nothing listens, held for as long as a test needs it."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator


@contextlib.contextmanager
def closed_port() -> Iterator[int]:
    """A port bound on 127.0.0.1 but not listening: connecting to it is refused.

    The socket stays bound until the block ends, so no other process can take the port
    meanwhile (a port probed and released at once may be reused on a busy machine).
    """
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        yield int(holder.getsockname()[1])
