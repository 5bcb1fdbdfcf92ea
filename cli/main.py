"""The `lim-tf` entry point."""

from __future__ import annotations

import logging
import sys

import click

from lim_tf import __version__
from lim_tf.errors import LimError, out_of_space
from lim_tf.runtime.process import configure


class LimGroup(click.Group):
    """A group that prints lim-tf and usage errors as one line and exits non-zero
    (bugs keep their traceback)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except LimError as error:
            raise click.ClickException(str(error)) from error
        except Exception as error:
            reason = out_of_space(error)
            if reason is None:
                raise  # a bug keeps its traceback
            target = ctx.meta.get("output", "the output")
            raise click.ClickException(f"{target}: could not be written ({reason}); free space or choose another "
                                       "location: nothing was left half-written") from error

    def main(self, *args, **kwargs):
        kwargs["standalone_mode"] = False
        try:
            code = super().main(*args, **kwargs)
        except click.UsageError as error:
            command = error.ctx.command_path if error.ctx else "lim-tf"
            click.echo(f"Error: {error.format_message()} (see '{command} --help')", err=True)
            sys.exit(error.exit_code)
        except click.ClickException as error:
            click.echo(f"Error: {error.format_message()}", err=True)
            sys.exit(error.exit_code)
        except click.Abort:
            click.echo("Aborted.", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


@click.group(cls=LimGroup, context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(__version__, prog_name="lim-tf")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors; no progress bars.")
@click.pass_context
def main(ctx: click.Context, verbose: int, quiet: bool) -> None:
    """Landslide inventory mapping: records, training, evaluation, scene maps and export."""
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    configure(level)
    ctx.obj = {"progress": not quiet}


def _register() -> None:
    from lim_tf_cli.data import data
    from lim_tf_cli.eval import evaluate
    from lim_tf_cli.export import export
    from lim_tf_cli.map import map_command
    from lim_tf_cli.models import models
    from lim_tf_cli.train import train

    main.add_command(data)
    main.add_command(train)
    main.add_command(evaluate)
    main.add_command(map_command)
    main.add_command(export)
    main.add_command(models)


_register()


if __name__ == "__main__":
    main()
