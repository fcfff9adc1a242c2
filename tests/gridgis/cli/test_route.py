"""``gridgis route``: the command line's row limit, and what it prints.

(The routing of files itself is tested in tests/gridgis/routing/test_files.py.)
"""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from gridgis.cli import main
from gridgis.cli.route import CLI_MAX_ROWS


def rows_file(path: Path, rows: int) -> Path:
    path.write_bytes(b"lon,lat\n" + b"114.3,30.5\n" * rows)
    return path


def test_the_command_line_limit_is_ten_times_the_web_default() -> None:
    assert CLI_MAX_ROWS == 1_000_000
    help_text = CliRunner().invoke(main, ["route", "--help"]).output
    assert "--max-rows" in help_text and "1000000" in help_text


def test_a_file_past_max_rows_is_refused_unread(scratch_database_url: str, tmp_path: Path) -> None:
    source = rows_file(tmp_path / "in.csv", 3)
    out = tmp_path / "out.csv"
    refused = CliRunner().invoke(main, ["route", str(source), "--out", str(out), "--max-rows", "2"])
    assert refused.exit_code == 1
    assert refused.output == (
        f"Error: {source} has more than 2 rows; one batch routes at most 2. Split the file "
        "into parts of at most 2 rows and route each part. Or raise the limit with --max-rows.\n"
    )
    assert not out.exists()
    routed = CliRunner().invoke(main, ["route", str(source), "--out", str(out), "--max-rows", "3"])
    assert routed.exit_code == 0, routed.output
    assert routed.output.startswith(f"Routed 3 rows from {source} to {out}:")


def test_max_rows_must_be_positive(tmp_path: Path) -> None:
    source = rows_file(tmp_path / "in.csv", 1)
    result = CliRunner().invoke(
        main, ["route", str(source), "--out", str(tmp_path / "o.csv"), "--max-rows", "0"]
    )
    assert result.exit_code == 2
    assert "0 is not in the range x>=1" in result.output
