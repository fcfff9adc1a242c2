"""``gridgis demo``: the demo community (data/shapes)."""

from __future__ import annotations

from pathlib import Path

import click
import sqlalchemy as sa

from gridgis.db import engine_scope, unit_of_work
from gridgis.models import Community


@click.group()
def demo() -> None:
    """The demo community: a generated, realistic 社区 in Wuhan."""


@demo.command()
@click.option(
    "--if-empty",
    is_flag=True,
    help="Load only when the database holds no community yet (what `make run` does).",
)
@click.option(
    "--shapes",
    "shapes_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder of demo files (default data/shapes).",
)
def load(if_empty: bool, shapes_dir: Path | None) -> None:
    """Load the demo community into the database, with a demo administrator.

    The administrator ``admin`` gets a random password, printed once, unless
    the database already has an administrator.
    """
    from gridgis.cli.common import cli_actor
    from gridgis.demo.loader import DEMO_ADMIN, SHAPES_DIR, create_demo_admin, load_demo

    with engine_scope() as engine, unit_of_work(engine) as session:
        if if_empty and session.scalar(sa.select(sa.func.count()).select_from(Community)):
            click.echo("The database already holds a community; demo not loaded.")
            return
        counts = load_demo(session, shapes_dir or SHAPES_DIR, actor=cli_actor())
        password = create_demo_admin(session, actor=cli_actor())
    # Printed only after the commit: a password shown for a rolled-back account would mislead.
    click.echo("Demo community loaded: " + ", ".join(f"{n} {k}" for k, n in counts.items()))
    if password is not None:
        click.echo(
            f"Demo administrator: {DEMO_ADMIN} / {password} "
            f"(shown once; change it with `gridgis user password {DEMO_ADMIN}`)"
        )


@demo.command()
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to write the files (default data/shapes).",
)
@click.option("--seed", type=int, default=20261129, show_default=True)
def generate(out_dir: Path | None, seed: int) -> None:
    """Regenerate the demo community files (deterministic for a seed)."""
    from gridgis.demo import generate as demo_module

    out = out_dir or demo_module.SHAPES_DIR
    out.mkdir(parents=True, exist_ok=True)
    counts = demo_module.generate(out, seed=seed)
    click.echo(f"Demo files written to {out}: " + ", ".join(f"{n} {k}" for k, n in counts.items()))
