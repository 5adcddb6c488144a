"""A separate process for the ledger tests: ``python -m tests.ledger.worker MODE URL``.

Modes:

* ``hold-lock HOLDER``: take the apply lock, print ``locked``, then sleep until killed;
* ``write-loop``: upsert tenants with three branches each forever, printing each committed
  tenant's name, until killed (for the crash-safety test).
"""

from __future__ import annotations

import sys
import time

from reconciler.core.model import OwnedTenant
from reconciler.ledger import open_ledger


def main(argv: list[str]) -> None:
    mode, url = argv[0], argv[1]
    ledger = open_ledger(url)
    if mode == "hold-lock":
        with ledger.apply_lock(argv[2]):
            print("locked", flush=True)
            time.sleep(60)
    elif mode == "write-loop":
        for number in range(1_000_000):
            name = f"tenant-{number:06d}"
            branches = {f"b{index}": f"br-{number}-{index}" for index in range(3)}
            ledger.upsert_tenant(OwnedTenant(name, f"proj-{number}", "org-1", branches))
            print(name, flush=True)
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
