"""The authentication of an IIS site: Basic, ADFS-style bearer tokens and their token endpoint, and NTLM/Negotiate
(Kerberos or NTLM) through pyspnego's acceptor, imported only when those are switched on; plus the --users file.

Like IIS, NTLM and Negotiate authenticate the TCP connection: the handler keeps per-connection state for them.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import secrets
import tempfile
import threading
import time
from typing import Any, Dict, List, NamedTuple, Optional, Tuple
from urllib.parse import parse_qsl, unquote

from .replies import Reply, json_reply, method_not_allowed
from .store import canonical_guid, read_json_file

REALM = "MIM CM simulator"
SCHEMES = ("negotiate", "ntlm", "basic", "bearer")
RIGHTS = ("read", "write")
TOKEN_PATH = "/adfs/oauth2/token"
TOKEN_LIFETIME = 3600
NO_STORE = (("Cache-Control", "no-store"), ("Pragma", "no-cache"))


class AuthResult(NamedTuple):
    """Outcome of one Authorization check, and what the access log says about it.

    headers carry a multi-leg continuation challenge (on 401) or the final server token (on success).
    user is the --users name; it is None for anonymous calls and for a principal that --users does not know.
    """

    ok: bool
    user: Optional[str] = None
    headers: Tuple[Tuple[str, str], ...] = ()
    scheme: Optional[str] = None
    principal: Optional[str] = None
    mechanism: Optional[str] = None
    handshake: bool = False
    error: Optional[str] = None


ANONYMOUS = AuthResult(True)


class Directory:
    """The --users file: users, OAuth clients and static bearer tokens, plus the tokens issued at run time."""

    def __init__(self, users: Dict[str, Dict[str, Any]], clients: Dict[str, Dict[str, str]], tokens: Dict[str, str]) -> None:
        self.users = users
        self.clients = clients
        self.tokens = dict(tokens)  # token -> user
        self.expiry = {}  # type: Dict[str, float]
        self.lock = threading.Lock()

    def find(self, principal: Optional[str]) -> Optional[str]:
        """User for MIMLAB\\alice, alice@MIMLAB.TEST or alice (any case); None when unknown."""
        short = (principal or "").rpartition("\\")[2].partition("@")[0].lower()
        return next((name for name in self.users if name.lower() == short), None) if short else None

    def issue(self, user: str) -> str:
        """A new random access token for user, valid TOKEN_LIFETIME seconds."""
        token = secrets.token_urlsafe(32)
        with self.lock:
            self.tokens[token] = user
            self.expiry[token] = time.monotonic() + TOKEN_LIFETIME
        return token

    def token_user(self, token: str) -> Optional[str]:
        """User of a static or unexpired issued token."""
        with self.lock:
            if token in self.expiry and self.expiry[token] < time.monotonic():
                del self.tokens[token], self.expiry[token]
            return self.tokens.get(token)


def load_users(path: Optional[str]) -> Directory:
    """--users: {"users": {name: {"password", "uuid", "rights"}}, "clients": {id: {"secret", "user"}}, "tokens": {token: user}}."""
    if not path:
        return Directory({}, {}, {})
    data = read_json_file(path)
    shape = '%s: expected {"users": {"name": {"password": "...", "uuid": "...", "rights": ["read", "write"]}}, "clients": {...}, "tokens": {...}}'
    users = data.get("users") if isinstance(data, dict) else None
    if not isinstance(users, dict) or not all(isinstance(v, dict) and isinstance(v.get("password", ""), str) for v in users.values()):
        raise ValueError(shape % path)
    table = {}
    for name, record in users.items():
        rights = record.get("rights", list(RIGHTS))
        if not isinstance(rights, list) or not all(right in RIGHTS for right in rights):
            raise ValueError("%s: users.%s.rights must be a list of %s" % (path, name, ", ".join(RIGHTS)))
        table[name] = {"password": record.get("password"), "uuid": canonical_guid(record.get("uuid")), "rights": frozenset(rights)}
    clients, tokens = data.get("clients", {}), data.get("tokens", {})
    if not isinstance(clients, dict) or not all(isinstance(c, dict) and isinstance(c.get("secret"), str) and str(c.get("user")) in table
                                                for c in clients.values()):
        raise ValueError('%s: clients must be {"<client_id>": {"secret": "...", "user": "<a name from users>"}}' % path)
    if not isinstance(tokens, dict) or not all(isinstance(user, str) and user in table for user in tokens.values()):
        raise ValueError('%s: tokens must be {"<token>": "<a name from users>"}' % path)
    return Directory(table, {cid: dict(c) for cid, c in clients.items()}, dict(tokens))


class BasicScheme:
    """HTTP Basic against the --users passwords; stateless, so every call carries the credentials."""

    name = "basic"

    def __init__(self, directory: Directory) -> None:
        self.directory = directory

    def challenge(self) -> str:
        """The WWW-Authenticate value offered on 401."""
        return 'Basic realm="%s"' % REALM

    def accept(self, token: str, conn_state: Dict[str, Any]) -> AuthResult:
        """Check base64(user:password); the user may be written alice, MIMLAB\\alice or alice@MIMLAB.TEST."""
        try:
            principal, sep, password = base64.b64decode(token, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, ValueError):
            return AuthResult(False, scheme=self.name, error="malformed Basic credentials")
        user = self.directory.find(principal)
        known = (self.directory.users[user]["password"] or "") if user else ""
        if sep and known and hmac.compare_digest(password.encode("utf-8"), known.encode("utf-8")):
            return AuthResult(True, user, scheme=self.name, principal=principal)
        return AuthResult(False, scheme=self.name, principal=principal, error="unknown user or wrong password")


class BearerScheme:
    """OAuth2 bearer tokens (ADFS style): static ones from --users or ones issued by the token endpoint."""

    name = "bearer"

    def __init__(self, directory: Directory) -> None:
        self.directory = directory

    def challenge(self) -> str:
        """The WWW-Authenticate value offered on 401."""
        return "Bearer"

    def accept(self, token: str, conn_state: Dict[str, Any]) -> AuthResult:
        """Look the token up; it is never logged."""
        user = self.directory.token_user(token) if token else None
        return AuthResult(True, user, scheme=self.name) if user else AuthResult(False, scheme=self.name, error="unknown or expired token")


class SpnegoScheme:
    """NTLM or Negotiate (Kerberos or NTLM inside SPNEGO, or a raw NTLM token) through pyspnego's acceptor.

    Like IIS, the handshake authenticates the TCP connection: the context lives in conn_state between the
    401 legs, and once complete the connection stays authenticated for later calls without Authorization.
    """

    def __init__(self, name: str, directory: Directory, channel_bindings: Any, spnego: Any) -> None:
        self.name = name
        self.header = "Negotiate" if name == "negotiate" else "NTLM"
        self.directory = directory
        self.channel_bindings = channel_bindings
        self.spnego = spnego  # the module from load_spnego(), loaded once by build()

    def challenge(self) -> str:
        """The WWW-Authenticate value offered on 401."""
        return self.header

    def accept(self, token: str, conn_state: Dict[str, Any]) -> AuthResult:
        """One leg: continue this connection's handshake, or start a new one."""
        name, context = conn_state.pop("handshake", (None, None))
        if name != self.name or context is None or context.complete:
            conn_state.pop("authenticated", None)  # a new handshake replaces the connection's identity, as in IIS
            context = self.spnego.server(protocol=self.name, channel_bindings=self.channel_bindings)
        try:
            out = context.step(base64.b64decode(token, validate=True))
        except Exception as exc:  # pylint: disable=broad-exception-caught  # pyspnego/gssapi raise many types; all mean "refused"
            return AuthResult(False, scheme=self.name, error=failure_text(exc, context))
        reply_headers = (("WWW-Authenticate", "%s %s" % (self.header, base64.b64encode(out).decode("ascii"))),) if out else ()
        if not context.complete:
            conn_state["handshake"] = (self.name, context)
            return AuthResult(False, headers=reply_headers, scheme=self.name)
        mechanism, principal = context.negotiated_protocol, context.client_principal
        if self.channel_bindings is not None and mechanism == "kerberos" and not kerberos_channel_bound(context):
            return AuthResult(False, scheme=self.name, principal=principal, mechanism=mechanism, error="no channel bindings from the client")
        result = AuthResult(True, self.directory.find(principal), reply_headers, self.name, principal, mechanism, handshake=True)
        conn_state["authenticated"] = result._replace(headers=(), handshake=False)
        return result


def load_spnego() -> Any:
    """pyspnego is needed only for NTLM and Negotiate, so it is imported only when they are switched on."""
    try:
        import spnego  # pylint: disable=import-outside-toplevel
    except ImportError as exc:
        raise ValueError("--auth negotiate and ntlm need pyspnego: pip install 'pyspnego[kerberos]' (%s)" % exc)
    return spnego


def kerberos_channel_bound(context: Any) -> bool:
    """Whether the Kerberos initiator really sent the expected channel bindings.

    MIT krb5 accepts an AP-REQ without bindings even when the acceptor has some (only wrong ones fail), and
    sets GSS_C_CHANNEL_BOUND_FLAG when they were present and matched.  pyspnego does not expose that flag, so
    this reads it from its inner gssapi context (pyspnego 0.12 internals); anything unexpected counts as unbound.
    pyspnego's NTLM acceptor itself refuses a missing or different MsvAvChannelBindings, so NTLM needs no check here.
    """
    try:
        import gssapi  # pylint: disable=import-outside-toplevel
        inner = getattr(context, "_context", None)  # NegotiateProxy -> the chosen mech's proxy
        return gssapi.RequirementFlag.channel_bound in inner._context.actual_flags  # pylint: disable=protected-access
    except Exception:  # pylint: disable=broad-exception-caught
        return False


def failure_text(exc: Exception, context: Any) -> str:
    """Why a handshake leg failed, for the access log.

    python-gssapi defers an acceptor's GSSError (to send its error token) and raises an unhelpful AttributeError
    on the next use; the real error waits in its context's _last_err (pyspnego 0.12 / python-gssapi internals).
    """
    try:
        exc = context._context._context._last_err or exc  # pylint: disable=protected-access
    except Exception:  # pylint: disable=broad-exception-caught
        pass
    return "%s: %s" % (type(exc).__name__, str(exc)[:300])


def tls_server_end_point(cert_path: str) -> bytes:
    """RFC 5929 tls-server-end-point of the server certificate (the first one in the file).

    The hash is the certificate's signature hash, or SHA-256 when that is MD5 or SHA-1 (or undefined).
    """
    from cryptography import x509  # pylint: disable=import-outside-toplevel
    from cryptography.hazmat.primitives import hashes, serialization  # pylint: disable=import-outside-toplevel
    with open(cert_path, "rb") as handle:
        cert = x509.load_pem_x509_certificate(handle.read())
    algorithm = cert.signature_hash_algorithm
    if algorithm is None or isinstance(algorithm, (hashes.MD5, hashes.SHA1)):
        algorithm = hashes.SHA256()
    digest = hashes.Hash(algorithm)
    digest.update(cert.public_bytes(serialization.Encoding.DER))
    return digest.finalize()


def write_ntlm_user_file(directory: Directory, domain: str, upn_suffix: str) -> Optional[str]:
    """pyspnego's NTLM acceptor reads DOMAIN:USER:PASSWORD lines from $NTLM_USER_FILE: write one from --users.

    Each user with a password gets DOMAIN\\user, user@UPN_SUFFIX and a bare user line.  The file is private to
    this process (a fresh 0700 directory, 0600 file) and is removed at shutdown.  Returns the directory, or
    None when no user has a password (then Negotiate offers Kerberos only).
    """
    lines = []
    for name, record in directory.users.items():
        password = record["password"]
        if not password:
            continue
        if any(char in name + password for char in ":\r\n"):
            raise ValueError("user %r: NTLM cannot use a name or password with ':' or a line break" % name)
        lines += ["%s:%s:%s" % (domain, name, password), ":%s@%s:%s" % (name, upn_suffix, password), ":%s:%s" % (name, password)]
    if not lines:
        return None
    folder = tempfile.mkdtemp(prefix="mim-cm-simulator-")
    path = os.path.join(folder, "ntlm_users")
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    os.environ["NTLM_USER_FILE"] = path
    return folder


class Authenticator:
    """Dispatches on the Authorization scheme; remembers connections that completed an NTLM/Negotiate handshake."""

    def __init__(self, schemes: List[Any]) -> None:
        self.schemes = {scheme.name: scheme for scheme in schemes}

    def check(self, header: Optional[str], conn_state: Dict[str, Any]) -> AuthResult:
        """No schemes configured means anonymous access (user None)."""
        if not self.schemes:
            return ANONYMOUS
        if not header:
            conn_state.pop("handshake", None)
            return conn_state.get("authenticated") or AuthResult(False)
        scheme_name, _sep, token = header.strip().partition(" ")
        scheme = self.schemes.get(scheme_name.lower())
        if scheme is None:
            return AuthResult(False, error="scheme %s is not offered" % scheme_name[:40])
        return scheme.accept(token.strip(), conn_state)

    def challenges(self) -> Tuple[Tuple[str, str], ...]:
        """One WWW-Authenticate header per scheme, in the --auth order, as IIS sends them."""
        return tuple(("WWW-Authenticate", scheme.challenge()) for scheme in self.schemes.values())


class TokenEndpoint:
    """ADFS-style OAuth2 token endpoint (client credentials grant) at /adfs/oauth2/token; not subject to --auth."""

    def __init__(self, directory: Directory) -> None:
        self.directory = directory

    def handle(self, method: str, authorization: Optional[str], body: bytes) -> Tuple[Reply, AuthResult]:
        """Form-encoded grant_type, client_id, client_secret, resource (or client_secret_basic) -> access token."""
        if method != "POST":
            return method_not_allowed(method), AuthResult(False)
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        client_id, secret = form.get("client_id"), form.get("client_secret")
        scheme, _sep, token = (authorization or "").strip().partition(" ")
        if scheme.lower() == "basic":
            try:
                client_id, _sep, secret = (unquote(part) for part in base64.b64decode(token, validate=True).decode("utf-8").partition(":"))
            except (binascii.Error, ValueError):
                client_id = secret = None
        result = AuthResult(False, scheme="client_credentials", principal=client_id)
        if form.get("grant_type") != "client_credentials":
            code = "unsupported_grant_type" if form.get("grant_type") else "invalid_request"
            return oauth_error(code, "Only grant_type=client_credentials is supported."), result
        client = self.directory.clients.get(client_id or "")
        if client is None or not hmac.compare_digest((secret or "").encode("utf-8"), client["secret"].encode("utf-8")):
            return oauth_error("invalid_client", "MSIS9607: The client is not registered or the client secret is wrong."), result
        payload = {"access_token": self.directory.issue(client["user"]), "token_type": "bearer", "expires_in": TOKEN_LIFETIME}
        reply = json_reply(200, payload)._replace(headers=NO_STORE)
        return reply, result._replace(ok=True, user=client["user"])


def oauth_error(code: str, description: str) -> Reply:
    """OAuth2 error answer (RFC 6749 section 5.2)."""
    return json_reply(400, {"error": code, "error_description": description})._replace(headers=NO_STORE)


def parse_schemes(text: str) -> List[str]:
    """--auth: offered schemes in order, or none."""
    names = [name.strip().lower() for name in text.split(",")]
    if names == ["none"]:
        return []
    if any(name not in SCHEMES for name in names) or len(set(names)) != len(names):
        raise ValueError("--auth %r: use a comma-separated list of %s without repeats, or none" % (text, ", ".join(SCHEMES)))
    return names
