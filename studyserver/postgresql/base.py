"""Django's PostgreSQL backend, with a health check that needs no round trip while the connection is quiet.

With CONN_HEALTH_CHECKS Django sends ``SELECT 1`` before the first query of every request, so that a
connection the server closed (a restart, a failover, an idle timeout) is replaced instead of failing the
request. Under the participant load test that statement was the single largest wait of a request: 16 % of
the web threads' time (bench/flow, py-spy on a gunicorn worker), since each round trip waits for a database
process to be scheduled on the same busy cores.

A server that ends a connection says so on the socket: PostgreSQL sends a FATAL message ("terminating
connection due to administrator command") and closes it, and the kernel reports a closed peer. Between
requests an idle connection's socket has nothing to read, so a zero-timeout poll tells a quiet connection
from one the server has spoken on or closed. Only then (or when the poll cannot be used) is Django's
``SELECT 1`` sent, which decides as before. A peer that vanished without a word (a cut network) is not
seen by the poll; the ``SELECT 1`` would have waited for the TCP timeout there as well.
"""
from __future__ import annotations

import select

import psycopg
from django.db.backends.postgresql import base as postgresql
from psycopg import pq


class DatabaseWrapper(postgresql.DatabaseWrapper):
    def connection_is_quiet(self) -> bool:
        """True when the open connection is idle and the server has sent nothing since its last reply."""
        if self.connection is None or not hasattr(select, "poll"):
            return False
        pgconn = self.connection.pgconn
        if pgconn.status != pq.ConnStatus.OK or pgconn.transaction_status != pq.TransactionStatus.IDLE:
            return False
        try:
            poller = select.poll()
            poller.register(pgconn.socket, select.POLLIN | select.POLLPRI)
            return not poller.poll(0)
        except (OSError, ValueError, psycopg.Error):
            return False

    def close_if_health_check_failed(self) -> None:
        if (self.connection is not None and self.health_check_enabled and not self.health_check_done
                and not self.pool and self.connection_is_quiet()):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()
