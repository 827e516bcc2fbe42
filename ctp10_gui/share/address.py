"""`--serve [HOST:]PORT`: where the stream server listens (loopback unless a host is given)."""

from __future__ import annotations

import ipaddress

DEFAULT_HOST = "127.0.0.1"


def parse_serve_address(text: str) -> tuple[str, int]:
    """Return (host, port) of "8002", "0.0.0.0:8002" or "[::1]:8002"; ValueError with a reason."""
    text = text.strip()
    host, sep, port_text = text.rpartition(":")
    if not sep:
        host, port_text = DEFAULT_HOST, text
    elif host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif not host or ":" in host:
        raise ValueError(f"--serve wants [HOST:]PORT (IPv6 in brackets), got {text!r}")
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"--serve port must be a number 0–65535, got {port_text!r}") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"--serve port must be 0–65535, got {port}")
    return host, port


def is_loopback(host: str) -> bool:
    """Return True for a host only this PC can reach (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
