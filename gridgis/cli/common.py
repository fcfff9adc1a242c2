"""What every command shares: who runs it, and how a password is read."""

from __future__ import annotations

import getpass
import os

import click

from gridgis.access.permissions import Principal, cli_principal

#: The environment variable a password is read from (a name, not a password).
PASSWORD_ENV = "GRIDGIS_PASSWORD"  # nosec B105


def cli_actor() -> Principal:
    """Whoever runs the command, as the audit log names them: ``cli:<system user>``."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # a container user with no passwd entry and no $USER
        name = f"uid{os.getuid()}"
    return cli_principal(name)


def read_password(prompt: str = "Password") -> str:
    """The password from GRIDGIS_PASSWORD, else asked twice without echo."""
    password = os.environ.get(PASSWORD_ENV)
    if password is not None:
        return password
    return str(click.prompt(prompt, hide_input=True, confirmation_prompt=True))
