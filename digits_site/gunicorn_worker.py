"""gunicorn's threaded worker, with a time limit on each read from a client.

The ``Procfile`` serves with gthread workers: a connection holds a thread, not the whole worker, and gunicorn keeps a
connection that has sent nothing on its poller rather than on a thread. But a client that sends half a request and
stops would still hold its thread for ever: here each read and write on a connection gives up after
``DIGITS_CLIENT_TIMEOUT`` seconds (default 10) of silence, and the thread goes back to the pool. A client that
trickles a byte every few seconds is not stopped by this; on the open internet, put a buffering reverse proxy
(nginx) in front, as docs/reliability.md says.
"""

from __future__ import annotations

import errno
import os

from gunicorn.workers import gthread

CLIENT_TIMEOUT = float(os.environ.get("DIGITS_CLIENT_TIMEOUT", "10"))


class _TimedConnection(gthread.TConn):
    def init(self) -> None:
        super().init()
        self.sock.settimeout(CLIENT_TIMEOUT)


class ThreadWorker(gthread.ThreadWorker):
    def accept(self, listener) -> None:
        # gunicorn's accept, making connections whose reads are timed; the socket's blocking mode is set (and the
        # timeout set again) by the worker thread each time it takes the connection up.
        try:
            client_sock, client_addr = listener.accept()
            self.nr_conns += 1
            client_sock.setblocking(True)
            conn = _TimedConnection(self.cfg, client_sock, client_addr, listener.getsockname())
            self.enqueue_req(conn)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
