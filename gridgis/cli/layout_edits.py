"""``gridgis layout undo | redo | lock | unlock | log``: a draft's edit history and grid locks.

``gridgis layout undo NAME --community CODE`` puts back the grids of the
newest edit of draft NAME as they were before it (``gridgis layout assign``
edits are kept for that); ``redo`` applies the oldest undone edit again;
``lock NAME --community CODE --grid GRIDCODE`` keeps a grid out of painting,
undo and redo until ``unlock``; ``log NAME --community CODE`` prints the
edits, newest first, undone ones flagged. The work is in
:mod:`gridgis.planning.edits`; these only parse and print.
"""

from __future__ import annotations

from typing import Any

import click

from gridgis import clock
from gridgis.cli.common import cli_actor
from gridgis.db import engine_scope, unit_of_work
from gridgis.planning.drafts import find_layout
from gridgis.planning.edits import Edit, history, locked_codes, redo, set_locked, undo

_COMMUNITY = click.option(
    "--community", "community", required=True, metavar="CODE", help="The community's code."
)
_GRID = click.option("--grid", "grid", required=True, metavar="GRIDCODE", help="The grid's code.")


def what(summary: dict[str, Any]) -> str:
    """An edit in words: ``B04, B05 → 420106001002004 (new grid), 38 households; G3 removed``."""
    buildings = ", ".join(summary.get("buildings") or []) or "(none)"
    made = " (new grid)" if summary.get("new_grid") else ""
    text = f"{buildings} → {summary.get('grid')}{made}, {summary.get('households', 0)} households"
    removed = summary.get("removed_grids") or []
    return text + (f"; {', '.join(removed)} removed" if removed else "")


def _done(verb: str, name: str, community: str, edit: Edit) -> None:
    click.echo(
        f"{verb} edit {edit.seq} of layout {name!r} of community {community}: {what(edit.summary)}."
    )
    if edit.touched:
        click.echo(f"Grids written: {', '.join(edit.touched)}.")
    if edit.removed:
        click.echo(f"Grids removed from the draft: {', '.join(edit.removed)}.")


@click.command("undo")
@click.argument("name")
@_COMMUNITY
def undo_command(name: str, community: str) -> None:
    """Undo the newest edit of draft NAME: its grids back as they were."""
    with engine_scope() as engine, unit_of_work(engine) as session:
        edit = undo(session, find_layout(session, community, name), actor=cli_actor())
    _done("Undid", name, community, edit)


@click.command("redo")
@click.argument("name")
@_COMMUNITY
def redo_command(name: str, community: str) -> None:
    """Redo the oldest undone edit of draft NAME."""
    with engine_scope() as engine, unit_of_work(engine) as session:
        edit = redo(session, find_layout(session, community, name), actor=cli_actor())
    _done("Redid", name, community, edit)


def _set(name: str, community: str, grid: str, locked: bool) -> None:
    with engine_scope() as engine, unit_of_work(engine) as session:
        layout = find_layout(session, community, name)
        already = (grid.strip() in locked_codes(session, layout)) == locked
        set_locked(session, layout, grid, locked, actor=cli_actor())
    state = "locked" if locked else "unlocked"
    where = f"grid {grid.strip()} of layout {name!r} of community {community}"
    if already:
        click.echo(f"The {where} was already {state}.")
    elif locked:
        click.echo(
            f"Locked {where}: painting, undo and redo leave it as it is until it is unlocked."
        )
    else:
        click.echo(f"Unlocked {where}: it can be painted again.")


@click.command("lock")
@click.argument("name")
@_COMMUNITY
@_GRID
def lock_command(name: str, community: str, grid: str) -> None:
    """Lock a grid of draft NAME against changes (painting, undo, redo)."""
    _set(name, community, grid, True)


@click.command("unlock")
@click.argument("name")
@_COMMUNITY
@_GRID
def unlock_command(name: str, community: str, grid: str) -> None:
    """Unlock a grid of draft NAME."""
    _set(name, community, grid, False)


@click.command("log")
@click.argument("name")
@_COMMUNITY
@click.option(
    "--limit", default=50, show_default=True, metavar="N", help="Print the newest N edits."
)
def log_command(name: str, community: str, limit: int) -> None:
    """Print the edits of draft NAME, newest first (seq, when, who, what, undone)."""
    # Here, not at the top: gridgis.cli.layout imports this module to register its commands.
    from gridgis.cli.layout import table

    with engine_scope() as engine, unit_of_work(engine) as session:
        found = history(session, find_layout(session, community, name), limit=limit)
    if not found.edits:
        click.echo(f"Layout {name!r} of community {community} has no edits yet.")
        return
    yes_no = {True: "yes", False: "no"}
    click.echo(
        f"Edits of layout {name!r} of community {community}, newest first "
        f"(undo: {yes_no[found.can_undo]}, redo: {yes_no[found.can_redo]}):"
    )
    rows = [
        (
            str(e.seq),
            clock.show(e.at),
            e.actor,
            what(e.summary),
            "undone" if e.undone else "",
        )
        for e in found.edits
    ]
    click.echo(table(("seq", "when", "who", "what", "undone"), rows, right={0}))


#: The commands this module adds to ``gridgis layout``.
COMMANDS = (undo_command, redo_command, lock_command, unlock_command, log_command)
