"""Where the token, base URL and home folder come from; how secrets are kept out of logs."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from urllib.parse import urlsplit

from .errors import ValidationError
from .wire_rules import host_address, is_localhost_name

__all__ = [
    "DEFAULT_BASE_URL",
    "ENV_BASE_URL",
    "ENV_HOME",
    "ENV_LOG",
    "ENV_TOKEN",
    "RedactingFilter",
    "auth_headers",
    "configure_logging",
    "forget_secret",
    "is_local_server",
    "redact",
    "register_api",
    "release_api",
    "remember_secret",
    "resolve_base_url",
    "resolve_home",
    "resolve_token",
]

ENV_TOKEN = "ECOMVIZ_API_TOKEN"
ENV_BASE_URL = "ECOMVIZ_BASE_URL"
ENV_HOME = "ECOMVIZ_HOME"
ENV_LOG = "ECOMVIZ_LOG"
DEFAULT_BASE_URL = "https://ecomviz.cloud"
MASK = "***"

logger = logging.getLogger("ecomviz_nb")


def resolve_token(token: str | None = None) -> str | None:
    """Return the token given, else ``$ECOMVIZ_API_TOKEN``, else None; blank counts as absent."""
    value = token if token is not None else os.environ.get(ENV_TOKEN)
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if any(ch.isspace() for ch in value):
        # Never echo the value back: it is a secret.
        raise ValidationError("token", MASK, "a single word without spaces or line breaks")
    remember_secret(value)
    return value


def resolve_base_url(base_url: str | None = None) -> str:
    """The base URL given, else ``$ECOMVIZ_BASE_URL``, else the public API; no trailing slash.

    Raises:
        ValidationError: the URL is not an http(s) URL with a host.
    """
    value = base_url if base_url is not None else os.environ.get(ENV_BASE_URL) or DEFAULT_BASE_URL
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ValidationError("base_url", value, "an http:// or https:// URL with a host")
    return value.rstrip("/")


def is_local_server(url: str) -> bool:
    """Whether a URL names a server on this machine: the one rule for "is this a sandbox?".

    Local hosts are ``localhost`` and ``*.localhost``, the loopback addresses ``127.0.0.0/8``
    and ``::1`` (also written ``127.1``, ``2130706433`` or ``::ffff:127.0.0.1``) and the
    unspecified ``0.0.0.0`` and ``::``, which reach this machine too. Nothing is resolved or
    sent: it is a reading of the URL only, so a sandbox behind any other name is not seen.

    Private LAN addresses (``10.x``, ``172.16-31.x``, ``192.168.x``) and one-word host names
    are *not* local: such a server may be the real API behind a gateway, and it is reachable
    by other machines, so nothing about it may be guessed from the address. (Whether a webhook
    on a private address can be reached is another question, answered in ``models``.)

    Args:
        url: a URL with a host, such as ``http://127.0.0.1:8787`` or ``https://ecomviz.cloud``.

    Returns:
        True for a server on this machine.

    Raises:
        ValidationError: ``url`` is not a string holding a URL with a host.
    """
    allowed = "a URL with a host, such as http://127.0.0.1:8787"
    if not isinstance(url, str):
        raise ValidationError("url", url, allowed)
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        host = None
    if not host:
        raise ValidationError("url", url, allowed)
    if is_localhost_name(host):
        return True
    ip = host_address(host)
    return ip is not None and (ip.is_loopback or ip.is_unspecified)


def resolve_home(home: str | os.PathLike[str] | None = None) -> Path:
    """The folder for the ledger and caches: the argument, ``$ECOMVIZ_HOME`` or ~/.ecomviz."""
    if home is not None:
        return Path(home).expanduser()
    env = os.environ.get(ENV_HOME)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".ecomviz"


_secrets: set[str] = set()
_secrets_lock = threading.Lock()


def remember_secret(secret: str) -> None:
    """Register a value that :func:`redact` and :class:`RedactingFilter` must hide."""
    if len(secret) >= 4:
        with _secrets_lock:
            _secrets.add(secret)


def forget_secret(secret: str) -> None:
    """Stop hiding a value (used when a client is closed and tests reuse tokens)."""
    with _secrets_lock:
        _secrets.discard(secret)


def redact(text: str) -> str:
    """Replace every registered secret in ``text`` by ``***``."""
    with _secrets_lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that renders the message and hides every registered secret in it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        return True


_api_tokens: dict[str, str] = {}
# How many live clients hold each (origin, token): the last one to close forgets the token.
_api_holders: dict[tuple[str, str], int] = {}


def _origin(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


def register_api(base_url: str, token: str | None) -> None:
    """Remember which token a server takes, so images on that server are fetched with it.

    Each call is one hold (one client); :func:`release_api` gives it back.
    """
    if token:
        origin = _origin(base_url)
        with _secrets_lock:
            _api_tokens[origin] = token
            _api_holders[(origin, token)] = _api_holders.get((origin, token), 0) + 1


def release_api(base_url: str, token: str | None) -> None:
    """A client made by :func:`register_api` closed: give back its hold on the token.

    When no live client holds the token for that server any more, images there are no longer
    fetched with it (another live client's token for the server takes over, if there is one);
    when no live client holds it anywhere, :func:`redact` stops hiding it.
    """
    if not token:
        return
    origin = _origin(base_url)
    with _secrets_lock:
        key = (origin, token)
        if key not in _api_holders:
            return
        _api_holders[key] -= 1
        if _api_holders[key] > 0:
            return
        del _api_holders[key]
        if _api_tokens.get(origin) == token:
            others = [t for (o, t) in _api_holders if o == origin]
            if others:
                _api_tokens[origin] = others[-1]
            else:
                del _api_tokens[origin]
        if not any(t == token for (_o, t) in _api_holders):
            _secrets.discard(token)


def auth_headers(url: str) -> dict[str, str]:
    """``Authorization`` for a URL on a server a client was made for; else nothing.

    Images on other hosts never receive the token.
    """
    try:
        origin = _origin(url)
    except ValueError:
        return {}
    with _secrets_lock:
        token = _api_tokens.get(origin)
    return {"Authorization": f"Bearer {token}"} if token else {}


_configured = False
_EMITTING_LOGGERS = (
    "ecomviz_nb",
    "ecomviz_nb.client",
    "ecomviz_nb.sandbox",
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
)


def configure_logging() -> None:
    """Attach the redacting filter; with ``ECOMVIZ_LOG=debug`` also log every request to stderr.

    Safe to call many times: the work is done once per process.
    """
    global _configured
    if _configured:
        return
    _configured = True
    flt = RedactingFilter()
    # A logger's filters only see records logged on that very logger, not its children's,
    # so each logger that emits records gets the filter.
    for name in _EMITTING_LOGGERS:
        logging.getLogger(name).addFilter(flt)
    level = os.environ.get(ENV_LOG, "").strip().lower()
    if level in ("debug", "info"):
        handler = logging.StreamHandler()
        handler.addFilter(flt)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG if level == "debug" else logging.INFO)
