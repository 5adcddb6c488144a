"""The ``-o FILE`` option shared by ``plan`` and ``drift``, and the neonctl habit it trips."""

from __future__ import annotations

from pathlib import Path

from reconciler.cli.state import State

#: ``-o`` values that name an output format in neonctl's habit (``-o json``), and the
#: ``--format`` of ours closest to each.
_FORMAT_WORDS = {
    "text": "text",
    "table": "text",
    "json": "json",
    "yaml": "json",
    "markdown": "markdown",
    "md": "markdown",
}


def warn_if_out_looks_like_a_format(state: State, out_file: Path, what: str) -> None:
    """``-o`` saves a file here, but in neonctl ``-o`` picks the output format: say so when
    the file name is a bare format word, since a file named ``json`` is rarely what was meant."""
    meant = _FORMAT_WORDS.get(out_file.name.lower())
    if out_file.suffix or meant is None:
        return
    state.output.note(
        f"warning: writing the {what} to a file named {str(out_file)!r}; "
        f"did you mean --format {meant}? "
        f"(-o/--out saves the {what} file; --format picks what is printed)"
    )
