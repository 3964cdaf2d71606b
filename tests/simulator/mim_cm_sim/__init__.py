"""Local simulator of the MIM CM REST API (requests, profile templates and their policies, certificate enrollment with
a CA of its own, profiles, smart cards).

Why it exists: the collection talks to Microsoft Identity Manager Certificate
Management over HTTP, and its tests and demos need a server that answers like
the real one (status codes, ASP.NET/IIS error bodies, keep-alive connections)
without a Windows domain.  It speaks the authentication a real IIS site does:
Windows Integrated Authentication (Negotiate with Kerberos or NTLM, and NTLM)
through pyspnego's acceptor, Basic, ADFS-style OAuth2 bearer tokens, and TLS
(with client certificates and channel binding) through the ssl module.  With
--auth none, basic or bearer it needs the Python standard library only (3.9 or
later); pyspnego is imported only when negotiate or ntlm is switched on, and
cryptography only when certificates can be enrolled (a template with
generation options, or --ca-dir).  It can
also inject production failures on the wire (error pages, throttling, resets,
delays, cut-off answers), so that the client's retries can be proven.

The package, one module per concern; each imports only modules above it in this list (launch.cli, which runs
server.main, and the type hints of faults aside):
  replies   the Reply and the bodies (JSON, and IIS's HTML pages from pages/)
  logs      the audit and access logs (JSON lines), secrets redacted
  faults    the fault kinds, their answers and their execution
  store     the status table, the shapes of requests, templates, policies, generation options, profiles and cards, seed and
            state files
  ca        the enrollment CA (root and issuing CA), CSR checks, issuance, PKCS #12 and the CMC response (cryptography;
            imported by server.build only when needed, and by no other module)
  auth      Basic, bearer tokens and their endpoint, NTLM/Negotiate, the --users file
  api       the modelled controllers: routes and what each call does; approval outside the API (the CA comes in as an object)
  launch    starting, watching, stopping and approving in simulator processes (the helper every consumer uses)
  server    the HTTP layer and the command line
Run it with ../run_simulator.py; README.md there documents every switch, the file formats and the logs.
"""
