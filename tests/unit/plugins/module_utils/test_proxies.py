# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Proxies from the environment, over real sockets: a local HTTP server sees whether a call came through it as a proxy."""

from __future__ import annotations

import http.server
import json
import threading

import pytest

from ansible_collections.mim.certificate_management.plugins.module_utils._auth import auth_from_options
from ansible_collections.mim.certificate_management.plugins.module_utils._client import CMClient

RID = '5f0b5b8e-3c4a-4d7b-9e2f-6a1c0d3b2e11'
PATH = '/CertificateManagement/api/v1.0/requests/' + RID
PROXY_VARIABLES = ('http_proxy', 'https_proxy', 'all_proxy', 'no_proxy')


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Answers every GET with an Approved request and records the request line (absolute URI when used as a proxy)."""

    protocol_version = 'HTTP/1.1'

    def do_GET(self):  # pylint: disable=invalid-name
        self.server.lines.append(self.requestline)
        body = json.dumps({'Uuid': RID, 'Status': 3}).encode()
        self.send_response(200)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # pylint: disable=arguments-differ
        pass


@pytest.fixture
def recorder(monkeypatch):
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _Recorder)
    server.lines = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def client(url):
    return CMClient(url, auth_from_options('none'), retries=0)


def test_http_proxy_from_the_environment_carries_every_call(recorder, monkeypatch):
    monkeypatch.setenv('HTTP_PROXY', 'http://127.0.0.1:%d' % recorder.server_port)
    cm = client('http://cm.example.test')
    assert cm.get_request(RID)['Status'] == 3
    assert cm.get_request(RID)['Status'] == 3
    assert recorder.lines == ['GET http://cm.example.test%s HTTP/1.1' % PATH] * 2


def test_no_proxy_sends_the_calls_straight_to_the_server(recorder, monkeypatch):
    monkeypatch.setenv('HTTP_PROXY', 'http://127.0.0.1:9')  # nothing listens there: a proxied call would fail
    monkeypatch.setenv('NO_PROXY', '127.0.0.1')
    cm = client('http://127.0.0.1:%d' % recorder.server_port)
    assert cm.get_request(RID)['Status'] == 3
    assert recorder.lines == ['GET %s HTTP/1.1' % PATH]


def test_without_proxy_variables_the_calls_go_straight_to_the_server(recorder):
    cm = client('http://127.0.0.1:%d' % recorder.server_port)
    assert cm.get_request(RID)['Status'] == 3
    assert recorder.lines == ['GET %s HTTP/1.1' % PATH]
