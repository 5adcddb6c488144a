"""A local emulator of the Neon Management API v2 (the routes neon-fleet uses).

Public API::

    seed = load_seed("seed.yaml")                # or seed_from_mapping({...})
    emu = Emulator("emulator.db", seed)          # a WSGI app; None → in-memory state
    httpx.Client(transport=httpx.WSGITransport(app=emu), base_url="http://emulator/api/v2")
    with serve(emu) as running:                  # loopback, background thread
        running.url                              # "http://127.0.0.1:PORT/api/v2"
    serve_forever(emu, "127.0.0.1", 8787)        # blocking, for `fleet emulator serve`

The seed format is documented in ``SEED.md`` next to this file.
"""

from reconciler.emulator.app import Emulator, EmulatorStats
from reconciler.emulator.faults import ConnectionDropped, ResponseLost
from reconciler.emulator.seed_file import Faults, Limits, Seed, load_seed, seed_from_mapping
from reconciler.emulator.server import RunningServer, serve, serve_forever

__all__ = [
    "ConnectionDropped",
    "Emulator",
    "EmulatorStats",
    "Faults",
    "Limits",
    "ResponseLost",
    "RunningServer",
    "Seed",
    "load_seed",
    "seed_from_mapping",
    "serve",
    "serve_forever",
]
