"""Running `hwnas` in-process as a user would, for tests: success, or one error line with exit code 2."""

from __future__ import annotations

from typer.testing import CliRunner

from hwnas.cli import app


def cli_ok(*args: str) -> str:
    """The output of a command that must succeed."""
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def cli_error(*args: str) -> str:
    """The one `hwnas: error: …` line of a command that must be refused with exit code 2."""
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 2, (result.exit_code, result.output)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hwnas: error: "), result.stderr
    return lines[0]
