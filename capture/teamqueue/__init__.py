"""The capture queue of a team installation: procrastinate jobs on the catalog's PostgreSQL.

Chosen by ``OSINT_CAPTURE_QUEUE=postgresql``. Each queued capture is a catalog row (as
embedded) and a procrastinate job that names it; any number of ``osint-capture
worker`` processes on any number of machines take the jobs (:class:`TeamQueue`).
"""

from capture.teamqueue.duties import Duty, every
from capture.teamqueue.queue import LEASE_SECONDS, TeamQueue

__all__ = ["LEASE_SECONDS", "Duty", "TeamQueue", "every"]
