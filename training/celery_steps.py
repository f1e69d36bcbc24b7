"""A worker step that sends the fine-tunes requested while the broker was unreachable, each time the worker
(re)connects: a broker that comes back is exactly when workers reconnect (see :mod:`training.tasks`)."""

from __future__ import annotations

import logging

from celery import bootsteps
from django.db import DatabaseError, close_old_connections

log = logging.getLogger(__name__)


class SendWaitingFineTunes(bootsteps.StartStopStep):
    requires = ("celery.worker.consumer.tasks:Tasks",)

    def start(self, consumer) -> None:
        from training.tasks import send_waiting_fine_tunes

        close_old_connections()  # the worker's main process may hold a connection from before an outage
        try:
            send_waiting_fine_tunes()
        except DatabaseError as exc:  # never stop the worker for it: the beat schedule retries every minute
            log.warning("Could not send the fine-tunes waiting for the broker: %s", exc)
