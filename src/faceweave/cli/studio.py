"""`faceweave studio`: the browser studio on this machine, on the CLI's workspaces."""

from __future__ import annotations

import contextlib
import socket
from pathlib import Path

import click

from faceweave.cli.common import Number, warn


@click.command("studio")
@click.option("-w", "--workspace", type=click.Path(path_type=Path), help="Serve this one workspace.")
@click.option("--root", type=click.Path(path_type=Path),
              help="Serve every workspace in this folder; new ones go there (default: here).")  # fmt: skip
@click.option("--port", type=Number(0, 65535, integer=True), default=8484, show_default=True,
              help="TCP port; 0 picks a free one.")  # fmt: skip
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but loopback is open to other machines.")  # fmt: skip
@click.option("--max-upload-mb", type=Number(1, 1 << 22, integer=True), default=8192, show_default=True,
              help="Largest video an upload may be.")  # fmt: skip
def command(workspace: Path | None, root: Path | None, port: float, host: str, max_upload_mb: float) -> None:
    """Run the studio: prints a URL with a fresh access token (as Jupyter does); every page, API
    call, event stream and media file needs it. Ctrl-C stops it, and every running job saves."""
    import uvicorn

    from faceweave.errors import UserError
    from faceweave.studio.app import Studio, create_app
    from faceweave.studio.security import LOOPBACK, new_token

    if workspace is not None and root is not None:
        raise click.UsageError("give -w WORKSPACE or --root FOLDER, not both")
    only = None
    if workspace is not None:
        if not (workspace / "faceweave.toml").is_file():
            raise UserError(f"{workspace} is not a workspace (no faceweave.toml); `faceweave init` makes one")
        root, only = workspace.resolve().parent, workspace.resolve().name
    root = (root or Path(".")).resolve()
    if not root.is_dir():
        raise UserError(f"{root} is not a folder")
    if host not in LOOPBACK:
        warn(f"listening on {host}: other machines can reach the studio; the token is all that guards it")
    try:
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, int(port)))
        sock.listen(128)  # a browser opening the printed URL at once waits in the queue, not refused
    except OSError as exc:
        raise UserError(f"cannot listen on {host}:{int(port)} ({exc.strerror})") from None
    bound = sock.getsockname()[1]
    token = new_token()
    hosts: tuple[str, ...] = (*LOOPBACK, host.lower())
    if host in ("0.0.0.0", "::"):  # every interface: the names and addresses others reach it by
        name = socket.gethostname()
        with contextlib.suppress(OSError):
            hosts += (name.lower(), socket.getfqdn().lower(), *socket.gethostbyname_ex(name)[2])
    studio = Studio(root, token, hosts, only, int(max_upload_mb))
    config = uvicorn.Config(create_app(studio), log_level="warning")
    config.load()  # before the URL is shown, so that a browser opening it at once is served at once
    server = uvicorn.Server(config)
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"faceweave studio: http://{shown}:{bound}/?token={token}", err=False)
    try:
        server.run(sockets=[sock])
    finally:
        studio.runner.stop_all()
