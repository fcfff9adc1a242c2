import click
@click.command()
def serve() -> None:
    """Serve the web app (not written yet)."""
