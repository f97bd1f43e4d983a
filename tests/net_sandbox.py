"""A socket-layer sandbox for DNS-rebinding tests: fake DNS answers, and no connection that
can leave the machine.

`Sandbox` replaces `socket.getaddrinfo` (names in `answers` get their scripted answers, one
per lookup, the last repeating; other names that are not local fail as unknown) and
`socket.socket.connect`/`connect_ex` (a connection to a loopback address goes ahead; to an
address in `nat`, it goes to the loopback address given there, as a NAT would; to any other
address it is refused here, locally, and recorded in `refused`). So a fetch that connects
to the "public" answer of a rebinding name fails on this machine and never goes out.

In-process: `with Sandbox(answers={...}, nat={...}) as box: ...`. For a CLI in a real
subprocess: `sandboxed_cli(box_config, *args)` runs `python tests/net_sandbox.py CONFIG
ARGS`, which installs the same sandbox and then runs `stackextract ARGS`; the refused
connections are written to the file named in the config.
"""

from __future__ import annotations

import errno
import ipaddress
import json
import socket
import sys
import threading
from pathlib import Path
from typing import Any

_REAL_GETADDRINFO = socket.getaddrinfo
_REAL_CONNECT = socket.socket.connect
_REAL_CONNECT_EX = socket.socket.connect_ex
_LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost")


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


class Sandbox:
    """Fake DNS and a connect() that refuses every non-loopback address (see the module)."""

    def __init__(
        self,
        answers: dict[str, list[list[str]]] | None = None,
        nat: dict[str, str] | None = None,
        log: str | None = None,
    ) -> None:
        self.answers = {k.lower(): [list(a) for a in v] for k, v in (answers or {}).items()}
        self.nat = dict(nat or {})
        self.log = log
        self.lookups: dict[str, int] = {}
        self.refused: list[tuple[str, int]] = []
        self.nat_connects: list[tuple[str, int]] = []
        self._lock = threading.Lock()

    # -- DNS ------------------------------------------------------------------------------
    def getaddrinfo(self, host: Any, port: Any, family: int = 0, type: int = 0,
                    proto: int = 0, flags: int = 0) -> list[Any]:
        name = host.decode() if isinstance(host, bytes) else str(host or "")
        key = name.lower().rstrip(".")
        if key in self.answers:
            with self._lock:
                n = self.lookups.get(key, 0)
                self.lookups[key] = n + 1
                script = self.answers[key]
                addresses = script[min(n, len(script) - 1)]
            infos = []
            for address in addresses:
                ip = ipaddress.ip_address(address)
                fam = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
                if family not in (0, socket.AF_UNSPEC, fam):
                    continue
                sockaddr: tuple[Any, ...] = (
                    (address, int(port or 0), 0, 0) if ip.version == 6 else
                    (address, int(port or 0))
                )
                infos.append((fam, type or socket.SOCK_STREAM, proto or 6, "", sockaddr))
            if not infos:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            return infos
        try:
            ipaddress.ip_address(name.split("%", 1)[0])
        except ValueError:
            if key not in _LOCAL_NAMES:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
        return _REAL_GETADDRINFO(host, port, family, type, proto, flags)

    # -- connections ----------------------------------------------------------------------
    def _route(self, address: Any) -> Any:
        if not isinstance(address, tuple) or not address:
            return address  # AF_UNIX and the like: not network
        host, port = str(address[0]), int(address[1])
        if host in self.nat:
            with self._lock:
                self.nat_connects.append((host, port))
            return (self.nat[host], port, *address[2:]) if ":" in self.nat[host] else (
                self.nat[host], port)
        if _is_loopback(host):
            return address
        with self._lock:
            self.refused.append((host, port))
        self._write_log()
        raise ConnectionRefusedError(errno.ECONNREFUSED, f"sandbox: no connection to {host}")

    def _write_log(self) -> None:
        if self.log:
            Path(self.log).write_text(json.dumps(self.refused), encoding="utf-8")

    def __enter__(self) -> Sandbox:
        box = self

        def connect(sock: socket.socket, address: Any) -> None:
            return _REAL_CONNECT(sock, box._route(address))

        def connect_ex(sock: socket.socket, address: Any) -> int:
            try:
                routed = box._route(address)
            except ConnectionRefusedError:
                return errno.ECONNREFUSED
            return _REAL_CONNECT_EX(sock, routed)

        socket.getaddrinfo = self.getaddrinfo  # type: ignore[assignment]
        socket.socket.connect = connect  # type: ignore[method-assign]
        socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        socket.getaddrinfo = _REAL_GETADDRINFO
        socket.socket.connect = _REAL_CONNECT  # type: ignore[method-assign]
        socket.socket.connect_ex = _REAL_CONNECT_EX  # type: ignore[method-assign]


def sandboxed_cli(config: dict[str, Any], *args: Any, timeout: float = 60) -> Any:
    """Run the CLI in a real subprocess inside a Sandbox built from `config`
    (`answers`, `nat`, `log`)."""
    import subprocess

    from fault_helpers import env

    return subprocess.run(
        [sys.executable, __file__, json.dumps(config), *map(str, args)],
        capture_output=True, text=True, timeout=timeout, env=env(),
    )


def main() -> None:
    config = json.loads(sys.argv[1])
    box = Sandbox(config.get("answers"), config.get("nat"), config.get("log"))
    box.__enter__()
    from stackextract.cli import main as cli_main

    cli_main(sys.argv[2:], prog_name="stackextract")


if __name__ == "__main__":
    main()
