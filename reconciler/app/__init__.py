"""Use cases: the only place that wires manifests, client, ledger and applier together."""
