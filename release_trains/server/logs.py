"""What the server's access log may say: the dashboard accepts a token once in its first
address (`/?token=...`, removed from the address bar by the page), and uvicorn's access log
would otherwise write that secret into the server's output with every such request."""

from __future__ import annotations

import logging
import re

_TOKEN = re.compile(r"([?&]token=)[^&\s#]*", re.IGNORECASE)


def redact(text: str) -> str:
    return _TOKEN.sub(r"\1***", text)


class RedactTokens(logging.Filter):
    """Rewrites `token=` query values in uvicorn.access records (args: client, method, path,
    HTTP version, status) before they are formatted."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def install() -> None:
    """On uvicorn's access logger (after uvicorn.Config has configured its loggers)."""
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactTokens) for f in logger.filters):
        logger.addFilter(RedactTokens())
