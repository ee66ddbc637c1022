"""Who and where: the host name that locks, in-flight deploys and audit records carry, and the
actor (user@host) that runs and audit records name.

`RELEASE_TRAINS_HOST` overrides the host name: two containers that share a host name, or a
test that plays two machines on one, must not look like one host (a lock of another host is
judged by its heartbeat; one of this host by whether its process is alive).
"""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Mapping

HOST_VARIABLE = "RELEASE_TRAINS_HOST"
ACTOR_VARIABLE = "RELEASE_TRAINS_ACTOR"


def host(environ: Mapping[str, str] = os.environ) -> str:
    """This machine's name as locks and audit records say it."""
    return environ.get(HOST_VARIABLE) or socket.gethostname()


def actor(environ: Mapping[str, str] = os.environ) -> str:
    """user@host, as the audit record wants it; RELEASE_TRAINS_ACTOR overrides (CI bots)."""
    if environ.get(ACTOR_VARIABLE):
        return environ[ACTOR_VARIABLE]
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"{user}@{host(environ)}"
