# -*- coding: utf-8 -*-
# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""HTTP below the client: one deadline for each whole answer, and answers read up to a size limit.

requests' timeout bounds each socket read, so a server that drips a byte at a time is never timed out; here a
watchdog thread cuts the connection of a call whose answer is not complete by its deadline.
"""

from __future__ import annotations

import heapq
import itertools
import socket
import threading
import time

try:
    from requests.adapters import HTTPAdapter
    from urllib3 import HTTPConnectionPool, HTTPSConnectionPool
except ImportError:  # _client reports the missing library
    HTTPAdapter = HTTPConnectionPool = HTTPSConnectionPool = object

CHUNK = 64 * 1024
_CURRENT = threading.local()  # the watch of the call this thread is making


class _WatchedPool:
    """A connection pool that tells the current call's watch which connection carries it."""

    def _get_conn(self, timeout=None):
        connection = super()._get_conn(timeout)  # pylint: disable=no-member
        watch = getattr(_CURRENT, 'watch', None)
        if watch is not None:
            watch.connection = connection
        return connection


class _WatchedHTTPPool(_WatchedPool, HTTPConnectionPool):
    pass


class _WatchedHTTPSPool(_WatchedPool, HTTPSConnectionPool):
    pass


_POOLS = {'http': _WatchedHTTPPool, 'https': _WatchedHTTPSPool}


class WatchedAdapter(HTTPAdapter):
    """requests' adapter with pools whose connections the watchdog can cut (proxied ones too)."""

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = _POOLS
        return manager


class Watch:
    """The deadline of one call; a context manager that makes it the current call of this thread."""

    def __init__(self, watchdog, seconds):
        self.deadline = time.monotonic() + seconds
        self.connection = None
        self.expired = False
        self.done = False
        self._watchdog = watchdog
        self._outer = None

    def __enter__(self):
        self._outer = getattr(_CURRENT, 'watch', None)
        _CURRENT.watch = self
        self._watchdog.add(self)
        return self

    def __exit__(self, *exc_info):
        self.done = True
        _CURRENT.watch = self._outer

    def cut(self):
        """Shut the call's socket down, which ends a blocked read at once; False while there is no socket yet."""
        self.expired = True
        sock = getattr(self.connection, 'sock', None)
        if sock is None:
            return False
        try:
            socket.socket.shutdown(sock, socket.SHUT_RDWR)  # the plain socket's, under a TLS wrapper too
        except OSError:
            pass
        return True


class Watchdog:
    """One daemon thread for all the calls of a client: it cuts each call still running at its deadline."""

    RETRY_CUT = 0.05  # seconds: a call still connecting has no socket to cut yet; look again this much later

    def __init__(self):
        self._condition = threading.Condition()
        self._heap = []
        self._order = itertools.count()
        self._thread = None

    def watch(self, seconds):
        """A Watch for a call that must be answered within seconds."""
        return Watch(self, seconds)

    def add(self, watch, deadline=None):
        with self._condition:
            heapq.heappush(self._heap, (deadline or watch.deadline, next(self._order), watch))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name='mim-cm-deadlines', daemon=True)
                self._thread.start()
            self._condition.notify()

    def _run(self):
        with self._condition:
            while True:
                while self._heap and self._heap[0][2].done:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._condition.wait()
                    continue
                deadline, _order, watch = self._heap[0]
                if deadline > time.monotonic():
                    self._condition.wait(deadline - time.monotonic())
                    continue
                heapq.heappop(self._heap)
                if not watch.cut():
                    heapq.heappush(self._heap, (time.monotonic() + self.RETRY_CUT, next(self._order), watch))


def read_body(response, limit):
    """Read a streamed response's body, at most limit bytes (decoded); return (body, complete).

    A declared Content-Length over the limit is refused before reading; an incomplete body closes the connection.
    The body is kept on the response, so that response.json() and response.text work as usual.
    """
    declared = response.headers.get('Content-Length', '')
    complete = not (declared.isdigit() and len(declared) < 19 and int(declared) > limit and
                    response.headers.get('Content-Encoding', 'identity') == 'identity')
    chunks, size = [], 0
    if complete:
        for chunk in response.iter_content(CHUNK):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                complete = False
                break
    body = b''.join(chunks)[:limit]
    if not complete:
        response.close()
    response._content = body  # pylint: disable=protected-access
    response._content_consumed = True  # pylint: disable=protected-access
    return body, complete
