"""Settings of one executor manager process (from the command line) and endpoint parsing."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from flamepy.common.credentials import metadata, read_token_file
from flamepy.errors import InvalidConfigError

NODE_TOKEN_ENV = "FLAME_NODE_TOKEN"


@dataclass(frozen=True)
class ManagerConfig:
    endpoint: str  # the session manager's Backend address, e.g. http://127.0.0.1:8080
    name: str  # node name
    work_dir: Path
    log_level: str = "INFO"
    bind_timeout: float = 30.0
    heartbeat_interval: float = 2.0  # well below the session manager's node timeout (10 s)
    backoff_initial: float = 0.2
    backoff_max: float = 5.0
    register_timeout: float = 10.0
    leave_timeout: float = 5.0
    # SIGTERM → SIGKILL grace when a service process is stopped (release, task timeout, cancel)
    terminate_grace: float = 10.0
    local_pipe: bool = True  # attach over the session manager's local socket when it is on this host
    ca_file: str | None = None  # CA of an https:// session manager (--ca-file, FLAME_CA_FILE)
    client_cert: str | None = None  # our certificate and key for mutual TLS (--client-cert/--client-key)
    client_key: str | None = None
    advertise_address: str = "127.0.0.1"  # how other nodes reach this one (executor.address)
    overcommit: bool = False  # may advertise more CPUs/memory/GPUs than the machine has (resources)
    # the cluster's node token (--token-file / FLAME_NODE_TOKEN); None against an --auth none cluster
    token: str | None = field(default=None, repr=False)

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        """What every call to the session manager carries: the node token, if any."""
        return metadata(self.token) if self.token else ()


def node_token(token_file: str | None, env: dict[str, str] | None = None) -> str | None:
    """The node token: the file's content, else ``FLAME_NODE_TOKEN``, else None."""
    if token_file:
        return read_token_file(token_file)
    value = (env or {}).get(NODE_TOKEN_ENV, "").strip()
    return value or None


@dataclass(frozen=True)
class Target:
    address: str  # host:port for grpc
    secure: bool


def parse_endpoint(endpoint: str) -> Target:
    """``http://host:port`` / ``https://host:port`` / ``host:port`` → a gRPC target."""
    text = endpoint.strip()
    secure = False
    if text.startswith("https://"):
        secure, text = True, text[len("https://") :]
    elif text.startswith("http://"):
        text = text[len("http://") :]
    elif "://" in text:
        raise InvalidConfigError(f"invalid endpoint {endpoint!r}: use http://host:port or https://host:port")
    text = text.rstrip("/")
    if not text or ":" not in text:
        raise InvalidConfigError(f"invalid endpoint {endpoint!r}: expected host:port")
    return Target(text, secure)
