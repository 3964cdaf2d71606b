# -*- coding: utf-8 -*-
# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The connection options every module of the collection shares, documented once."""

from __future__ import annotations


class ModuleDocFragment:
    """Connection and authentication options."""

    DOCUMENTATION = r'''
options:
  url:
    description:
      - Address of the MIM CM web site, for example V(https://cm.contoso.com).
      - If not set, the value of the E(MIM_CM_URL) environment variable is used.
      - Required, from the option or the environment.
      - Must not hold user information (C(user:password@)); give the account with O(username) and O(password).
    type: str
    version_added: 0.1.0
  api_path:
    description:
      - Path of the MIM CM REST API below O(url).
      - IIS matches it case-insensitively.
      - A plain path of letters, digits and C(. _ ~ -) segments; a query, fragment, percent-encoding, dot segments or a
        C(requests) segment are refused, so that no call can be steered to another request.
    type: str
    default: /CertificateManagement/api/v1.0
    version_added: 0.1.0
  auth:
    description:
      - How to authenticate to the site.
      - V(negotiate) answers the Negotiate challenge of IIS with Kerberos when a ticket
        (E(KRB5CCNAME)) or O(username) and O(password) can get one, and NTLM otherwise.
      - V(kerberos) uses Kerberos only, from the ticket cache when no O(password) is given, or from O(username) (a UPN)
        and O(password) without C(kinit).
      - V(ntlm) uses NTLM only, with O(username) (C(DOMAIN\user) or a UPN) and O(password).
      - The Windows methods run their handshake once per kept-alive connection and, over HTTPS, send channel bindings
        so that IIS Extended Protection for Authentication accepts them.
      - V(basic) sends O(username) and O(password) as HTTP Basic.
      - V(bearer) sends an OAuth2 access token, O(token), or one fetched once per run from an ADFS token endpoint with
        O(token_url), O(client_id), O(client_secret) and O(resource).
      - V(none) sends no credentials.
      - If not set, the value of the E(MIM_CM_AUTH) environment variable is used.
      - Credentials that the chosen method does not use are an error, so that a wrong O(auth) does not go unnoticed.
    type: str
    choices: [negotiate, kerberos, ntlm, basic, bearer, none]
    default: negotiate
    version_added: 0.1.0
  username:
    description:
      - Account for O(auth=negotiate), O(auth=kerberos), O(auth=ntlm) and O(auth=basic).
      - If not set, the value of the E(MIM_CM_USERNAME) environment variable is used.
    type: str
    version_added: 0.1.0
  password:
    description:
      - Password of O(username).
      - If not set, the value of the E(MIM_CM_PASSWORD) environment variable is used.
      - Never shown in output or error messages.
    type: str
    version_added: 0.1.0
  service_principal:
    description:
      - Service principal name to ask Kerberos for, as C(HTTP/host.example.com), when it is not C(HTTP/) followed by the
        host of O(url), for example behind an alias or a load balancer.
      - If not set, the value of the E(MIM_CM_SERVICE_PRINCIPAL) environment variable is used.
    type: str
    version_added: 0.1.0
  token:
    description:
      - OAuth2 access token for O(auth=bearer).
      - If not set, the value of the E(MIM_CM_TOKEN) environment variable is used.
      - Never shown in output or error messages.
    type: str
    version_added: 0.1.0
  token_url:
    description:
      - ADFS token endpoint, such as V(https://adfs.contoso.com/adfs/oauth2/token), for O(auth=bearer) without O(token).
      - The token is fetched once per module run with the OAuth2 client credentials grant.
      - If not set, the value of the E(MIM_CM_TOKEN_URL) environment variable is used.
    type: str
    version_added: 0.1.0
  client_id:
    description:
      - Client identifier of the ADFS application, with O(token_url).
      - If not set, the value of the E(MIM_CM_CLIENT_ID) environment variable is used.
    type: str
    version_added: 0.1.0
  client_secret:
    description:
      - Secret of O(client_id).
      - If not set, the value of the E(MIM_CM_CLIENT_SECRET) environment variable is used.
      - Never shown in output or error messages.
    type: str
    version_added: 0.1.0
  resource:
    description:
      - Resource (relying party identifier) to ask ADFS a token for, with O(token_url).
      - If not set, the value of the E(MIM_CM_RESOURCE) environment variable is used.
    type: str
    version_added: 0.1.0
  token_ca_path:
    description:
      - PEM bundle of the CA that signed the certificate of O(token_url), for O(auth=bearer) with a token fetched from
        ADFS. The token endpoint has TLS settings of its own; O(ca_path) and O(validate_certs) are for the MIM CM site.
      - If not set, the value of the E(MIM_CM_TOKEN_CA_PATH) environment variable is used, and without either the
        system's trusted CAs.
    type: path
    version_added: 0.1.0
  token_validate_certs:
    description:
      - Whether the certificate of O(token_url) is verified. V(false) is only for test servers.
      - If not set, the value of the E(MIM_CM_TOKEN_VALIDATE_CERTS) environment variable is used, and without either
        V(true).
    type: bool
    version_added: 0.1.0
  validate_certs:
    description:
      - Whether to verify the server's TLS certificate.
      - Set V(false) only for test servers; a certificate error names O(ca_path) as the fix.
      - If not set, the value of the E(MIM_CM_VALIDATE_CERTS) environment variable is used.
    type: bool
    default: true
    version_added: 0.1.0
  ca_path:
    description:
      - PEM file with the CA certificates to trust for the server's certificate, instead of the system store.
      - If not set, the value of the E(MIM_CM_CA_PATH) environment variable is used.
    type: path
    version_added: 0.1.0
  client_cert:
    description:
      - PEM client certificate for mutual TLS (it may hold the key too).
      - If not set, the value of the E(MIM_CM_CLIENT_CERT) environment variable is used.
    type: path
    version_added: 0.1.0
  client_key:
    description:
      - PEM private key of O(client_cert), when the certificate file does not hold it. Requires O(client_cert).
      - If not set, the value of the E(MIM_CM_CLIENT_KEY) environment variable is used.
    type: path
    version_added: 0.1.0
  timeout:
    description:
      - Seconds one call may take, from connecting to the last byte of the answer, whatever the server sends; a server
        that drips its answer is cut off at this deadline.
      - From more than 0 to 3600.
      - A call is tried at most O(retries) + 1 times, so it takes at most O(timeout) times (O(retries) + 1) plus at most
        O(retries) waits of at most 30 seconds each.
    type: float
    default: 30
    version_added: 0.1.0
  retries:
    description:
      - How often a call that failed in a transient way is tried again (connection errors, timeouts, unreadable answers,
        and HTTP 408, 429, 502, 503 and 504).
      - HTTP 500 is not retried; it is the server's own error, with a correlation ID for the administrator.
      - A write whose outcome is unknown (timeout or reset after sending) is never sent again blindly; the request is
        read first, and when it already has the wanted status the write counts as done.
      - The waits are shared by all calls of a task, so a batch waits for a server that fails every call once, not once
        per request; at most O(retries) waits per outage, after which the calls left fail at once without being sent.
        Any call that succeeds ends the outage.
      - From 0 to 10.
    type: int
    default: 3
    version_added: 0.1.0
  backoff_factor:
    description:
      - Seconds before the first retry; each further retry waits twice as long, with random jitter, at most 30 seconds.
      - A C(Retry-After) from the server is honoured up to 30 seconds.
      - From 0 to 60.
    type: float
    default: 0.5
    version_added: 0.1.0
requirements:
  - requests (Python library, on the host that runs the module)
  - pyspnego, for O(auth=negotiate), O(auth=kerberos) and O(auth=ntlm)
  - gssapi (C(pyspnego[kerberos])) and the MIT Kerberos libraries, for Kerberos
notes:
  - "The API calls run where the module runs. Use C(delegate_to: localhost) to call MIM CM from the controller
    whatever the target host is."
  - Redirects are never followed, so that a redirected write cannot turn into a read.
  - Answers are read up to a size limit (1 MiB for one request or token answer, 64 MiB for a search result, the first
    64 KiB of an error page); a larger answer is an error naming the URL.
  - Every answer about a request is checked to name that request (its C(Uuid)); an answer about another request is an
    error and nothing is written on the strength of it.
  - Secrets (O(password), O(token), O(client_secret), a token fetched from O(token_url), the Basic header) are masked in
    every result and message, raw, URL-encoded, base64 and JSON-escaped.
  - Proxies come from the E(HTTP_PROXY), E(HTTPS_PROXY), E(ALL_PROXY) and E(NO_PROXY) environment variables (in upper
    or lower case) of the process running the module, read once per host. Other environment settings of the requests
    library, such as E(REQUESTS_CA_BUNDLE) or a C(.netrc) file, are ignored; use O(ca_path) and the credential options.
'''

    ACTION_GROUP = r'''
options: {}
attributes:
  action_group:
    description: Use C(group/mim.certificate_management.cm) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - mim.certificate_management.cm
'''

    # The attribute of a module whose action plugin runs its code inside the controller when it can.
    IN_CONTROLLER = r'''
options: {}
attributes:
  action:
    description:
      - Has an action plugin. When the task runs on the controller (a local connection, such as C(delegate_to) V(localhost))
        with the Python that runs Ansible, and without C(async) or a task C(environment), it runs the module's code inside
        the worker Ansible forked for the host instead of starting the module as a new process; anywhere else the module
        runs as usual. Results, check mode, diff and the masking of secrets are the same either way.
    support: full
'''

    # The attributes of a module that only reads.
    INFO_MODULE = r'''
options: {}
attributes:
  check_mode:
    description: Reads in check mode as in a normal run.
    support: full
  diff_mode:
    description: Changes nothing, so there is no diff.
    support: none
'''
