# -*- coding: utf-8 -*-
# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Windows Integrated Authentication over HTTP: IIS's 401 challenge answered with pyspnego tokens on one connection.

Imported only when auth is negotiate, kerberos or ntlm (pyspnego and cryptography take a while to load).
"""

from __future__ import annotations

import base64
import struct

from typing import Any, Optional

from urllib.parse import urlsplit

try:
    import spnego
    import spnego.channel_bindings
    import spnego.exceptions
except ImportError:  # _auth checks for pyspnego before this module is imported
    spnego = None  # type: ignore[assignment]

try:
    from krb5 import Krb5Error
except ImportError:
    Krb5Error = None  # type: ignore[assignment,misc]

try:
    from requests.auth import AuthBase
except ImportError:
    AuthBase = object  # type: ignore[assignment,misc]

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
except ImportError:
    x509 = None  # type: ignore[assignment]

from ansible_collections.mim.certificate_management.plugins.module_utils._errors import AuthenticationError
from ansible_collections.mim.certificate_management.plugins.module_utils._transport import challenges, offered_schemes, read_body

MAX_CHALLENGE_BYTES = 64 * 1024  # an IIS 401 page is a few kilobytes


class SpnegoHTTPAuth(AuthBase):
    """A requests auth hook: on a 401 that offers a scheme we speak, run the handshake on the same kept-alive connection.

    IIS authenticates the connection, so later calls on it pass without a new handshake.
    """

    def __init__(self, method: Any) -> None:
        self.method = method

    def __call__(self, request: Any) -> Any:
        request.register_hook('response', self.handle_401)
        return request

    def handle_401(self, response: Any, **kwargs: Any) -> Any:
        """Answer the challenge; return the final response (a 401 when the server refused us)."""
        if response.status_code != 401 or getattr(response.request, 'mim_cm_handshake', False):
            return response
        offered = [name.lower() for name in offered_schemes(response)]
        scheme = next((name for name in self.method.schemes if name.lower() in offered), None)
        if scheme is None:
            return response
        bindings = channel_bindings(response)
        try:
            context = self.method.context(urlsplit(response.request.url).hostname, bindings)
            out_token = context.step()
            while True:
                response = self._send_token(response, scheme, out_token, kwargs)
                in_token = server_token(response, scheme)
                if response.status_code != 401 or not in_token or context.complete:
                    if in_token and not context.complete:
                        context.step(in_token)  # mutual authentication: the server proves it holds the key
                    return response
                out_token = context.step(in_token)
        except _library_errors() as exc:
            raise AuthenticationError('%s failed before the server could accept it: %s. Check the credentials, the Kerberos '
                                      'configuration (KRB5_CONFIG, KRB5CCNAME) and service_principal'
                                      % (self.method.describe(), exc), url=response.request.url)
        except (ValueError, IndexError, struct.error) as exc:  # what parsing a malformed server token raises
            raise AuthenticationError('%s failed: the server sent a %s challenge that could not be read (%s: %s)'
                                      % (self.method.describe(), scheme, type(exc).__name__, str(exc)[:200]), url=response.request.url)

    @staticmethod
    def _send_token(response: Any, scheme: str, token: bytes, kwargs: dict[str, Any]) -> Any:
        if not read_body(response, MAX_CHALLENGE_BYTES)[1]:  # read the body so the connection goes back to the pool
            raise AuthenticationError('the server answered the authentication challenge with more than %d bytes'
                                      % MAX_CHALLENGE_BYTES, url=response.request.url)
        response.raw.release_conn()
        request = response.request.copy()
        request.headers['Authorization'] = '%s %s' % (scheme, base64.b64encode(token).decode('ascii'))
        request.mim_cm_handshake = True
        answer = response.connection.send(request, **kwargs)
        answer.history.append(response)
        answer.request = request
        return answer


def _library_errors() -> tuple[type[BaseException], ...]:
    """What pyspnego and the Kerberos library raise when a handshake cannot be made (bad password, no KDC, unknown SPN)."""
    return (spnego.exceptions.SpnegoError,) + ((Krb5Error,) if Krb5Error is not None else ())


def server_token(response: Any, scheme: str) -> Optional[bytes]:
    """The server's handshake token for scheme in WWW-Authenticate, or None."""
    for offered, token in challenges(response):
        if offered.lower() == scheme.lower() and token:
            try:
                return base64.b64decode(token, validate=True)
            except ValueError:
                raise AuthenticationError('the server sent a malformed %s challenge (not base64)' % scheme, url=response.request.url)
    return None


def channel_bindings(response: Any) -> Any:
    """tls-server-end-point channel bindings (RFC 5929) of the connection's server certificate, for IIS Extended Protection."""
    sock = getattr(getattr(response.raw, 'connection', None), 'sock', None)
    getpeercert = getattr(sock, 'getpeercert', None)
    der = getpeercert(True) if getpeercert else None
    if not der or x509 is None:
        return None
    certificate = x509.load_der_x509_certificate(der)
    algorithm = certificate.signature_hash_algorithm
    if algorithm is None or algorithm.name in ('md5', 'sha1'):
        algorithm = hashes.SHA256()
    digest = hashes.Hash(algorithm)
    digest.update(der)
    return spnego.channel_bindings.GssChannelBindings(application_data=b'tls-server-end-point:' + digest.finalize())
