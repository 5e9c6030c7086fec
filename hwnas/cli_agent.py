"""`hwnas agent serve|token`: the measuring agent, run on the device a user wants to measure."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from hwnas._cli_common import user_errors
from hwnas.errors import MeasurementError

agent_app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="The measuring agent: serve this device's ONNX Runtime to `--device agent://HOST:PORT`.",
)


def register(app: typer.Typer, console: Console) -> None:
    """Add `agent serve` and `agent token` to the `hwnas` app."""

    @agent_app.command("serve")
    @user_errors
    def serve(
        token_file: Path = typer.Option(
            ..., "--token-file", help="The token clients must send (`hwnas agent token F` makes one)."
        ),
        host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0: every interface)."),
        port: int = typer.Option(8765, "--port", min=0, max=65535),
        max_mb: float = typer.Option(256.0, "--max-mb", min=0.001, help="Largest request accepted, in MiB."),
    ) -> None:
        """Time the ONNX models clients send, with hwnas's measuring method, under this device's lock."""
        from hwnas.hw_profiles.agent import AgentServer, read_token  # onnxruntime: only the agent needs it here

        token = read_token(token_file)
        try:
            server = AgentServer(host, port, token, max_bytes=int(max_mb * 1024 * 1024))
        except OSError as exc:
            raise MeasurementError(
                f"cannot listen on {host}:{port}: {exc.strerror or exc}; choose another --port or --host"
            ) from None
        facts = server.facts
        bound = server.server_address[1]
        console.print(
            f"hwnas agent on {host}:{bound}: {facts['cpu']}, {facts['cores']} cores, onnxruntime {facts['onnxruntime']}"
            f"{', GPU ' + facts['gpu'] if facts['gpu'] else ''}. Clients: --device agent://{host}:{bound}",
            highlight=False,
        )
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()

    @agent_app.command("token")
    @user_errors
    def token(path: Path = typer.Argument(..., help="File to write a fresh token to (owner-readable only).")) -> None:
        """Write a fresh random token for `hwnas agent serve --token-file` (and its clients)."""
        from hwnas.hw_profiles.agent import new_token  # see serve

        new_token(path)
        console.print(f"wrote a new token to {path}; give it to clients as --token-file or HWNAS_AGENT_TOKEN")

    app.add_typer(
        agent_app, name="agent", help="The measuring agent: serve this device's ONNX Runtime to `--device agent://HOST:PORT`."
    )
