"""What every ``fleet`` command receives from the root group: the global options and the output."""

from __future__ import annotations

import click

from reconciler.app.environment import GlobalOptions
from reconciler.render.output import Output

FORMATS = click.Choice(["text", "json", "markdown"])


class State:
    """What the group's options decide, handed to every command."""

    def __init__(self, options: GlobalOptions, output: Output, verbose: int) -> None:
        self.options, self.output, self.verbose = options, output, verbose


pass_state = click.make_pass_decorator(State)
