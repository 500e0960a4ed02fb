"""Ray token authentication for clients: find the cluster token and present it the way Ray expects.

Clusters started with `ray start` enable token authentication when `RAY_AUTH_MODE=token` is set or a
token is available to them (`RAY_AUTH_TOKEN`, a file named by `RAY_AUTH_TOKEN_PATH`, or
`~/.ray/auth_token`). A client needs the same token: HTTP requests to the dashboard (job
submission) carry it as `Authorization: Bearer …`, and a driver attaching with `ray.init(address=…)`
needs `RAY_AUTH_MODE=token` in its own process, which Ray does not switch on by itself for an
explicit address. Sending a token to a cluster without authentication is harmless, so a client sends
one whenever it has one, unless `RAY_AUTH_MODE=disabled`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from unitscope.core.errors import ConfigError

MODE_ENV = "RAY_AUTH_MODE"
TOKEN_ENV = "RAY_AUTH_TOKEN"
TOKEN_PATH_ENV = "RAY_AUTH_TOKEN_PATH"
HOW_TO_SET = (
    f"set {TOKEN_ENV} to the cluster's token (or {TOKEN_PATH_ENV} to a file holding it, or put it in "
    "~/.ray/auth_token); on the head node `ray get-auth-token` prints it"
)


@dataclass(frozen=True)
class Token:
    """A cluster token and where it came from (for error messages; never print the value)."""

    value: str
    source: str

    def header(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.value}"}


def default_token_file() -> Path:
    return Path.home() / ".ray" / "auth_token"


def find_token() -> Token | None:
    """The token this client should present, in Ray's order of precedence, or None.

    A `RAY_AUTH_TOKEN_PATH` that cannot be read is a configuration error (as it is for Ray itself).
    """
    if os.environ.get(MODE_ENV, "").strip().lower() == "disabled":
        return None
    value = os.environ.get(TOKEN_ENV, "").strip()
    if value:
        return Token(value, f"${TOKEN_ENV}")
    path = os.environ.get(TOKEN_PATH_ENV)
    if path:
        try:
            value = Path(path).expanduser().read_text().strip()
        except OSError as exc:
            raise ConfigError(f"{TOKEN_PATH_ENV}={path} cannot be read: {exc.strerror or exc}") from exc
        if not value:
            raise ConfigError(f"{TOKEN_PATH_ENV}={path} is empty; it must hold the cluster's token")
        return Token(value, f"${TOKEN_PATH_ENV} ({path})")
    default = default_token_file()
    if default.is_file():
        value = default.read_text().strip()
        if value:
            return Token(value, str(default))
    return None


def enable_for_driver() -> Token | None:
    """Before `ray.init(address=...)`: switch this process to token mode when a token is available.

    Ray reads `RAY_AUTH_MODE` once into its config, so the config is re-read after setting it.
    """
    token = find_token()
    if token is None or os.environ.get(MODE_ENV):
        return token
    from ray._raylet import Config

    os.environ[MODE_ENV] = "token"
    Config.initialize("")
    return token


def rejection_message(address: str, missing: bool, token: Token | None) -> str:
    """What to tell the user when the cluster refused a request without a token or with a wrong one."""
    if missing or token is None:
        return (
            f"the Ray cluster at {address} requires an authentication token and none was sent: {HOW_TO_SET}"
        )
    return (
        f"the Ray cluster at {address} rejected the authentication token from {token.source} "
        f"(wrong token for this cluster): {HOW_TO_SET}"
    )
