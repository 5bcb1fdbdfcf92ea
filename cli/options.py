"""Options several commands share, written once, and Choices read off the library's Literal types."""

from __future__ import annotations

import logging
from typing import Any, get_args

import click


def choice_of(literal: Any) -> click.Choice:
    """A click.Choice of a `Literal[...]` type's values: the library's type is the one list."""
    return click.Choice(list(get_args(literal)))


def warn_if_shadowed(model: object) -> None:
    """Say which one is used where a shipped model's name is also a file or folder here."""
    from lim_tf.zoo import shadowing

    message = shadowing(str(model)) if model is not None else None
    if message:
        logging.getLogger("lim_tf").warning(message)


trust_model_option = click.option(
    "--trust-model", is_flag=True,
    help="Load models that carry Python code (Lambda layers). A model file is a program: use this only for files "
         "from a source you trust.")

tta_option = click.option(
    "--tta", type=click.IntRange(1, 4), is_flag=False, flag_value=4, default=None, metavar="[TURNS]",
    help="Test-time augmentation: average each prediction over TURNS quarter turns of the image (2: 0 and 180 "
         "degrees; 4, the most accurate, also 90 and 270; 1: none), TURNS x the prediction time. --tta alone: 4. "
         "Default: as many as the model's card or run chose its threshold with (bijie: 2; a run of yours: 1).")
