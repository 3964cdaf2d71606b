"""A throwaway MIT Kerberos realm on 127.0.0.1 for tests, made without root.

Why it exists: the MIM CM simulator accepts real Kerberos (Negotiate), and the
tests must prove that with a real KDC on the wire.  This module writes a
krb5.conf and a kdc.conf into one directory, creates the KDC database there
(kdb5_util), adds user and service principals (kadmin.local), exports the
service keys to a keytab, and runs krb5kdc in the foreground.  Nothing outside
the directory is touched; every tool gets its files through KRB5_CONFIG and
KRB5_KDC_PROFILE.

Command line:
    python tools/testenv/krb5_realm.py create DIR --realm MIMLAB.TEST --kdc-port PORT \\
        --user alice:PASSWORD --service HTTP/localhost
    python tools/testenv/krb5_realm.py run DIR

Python (pytest fixtures): create_realm(Realm(dir, realm, port), users, services), load_realm(),
start_kdc(), missing_tools(), free_port().
Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import time
from typing import Dict, Iterable, List, NamedTuple, Optional

TOOLS = ("kdb5_util", "kadmin.local", "krb5kdc")
# Debian puts the KDC tools in /usr/sbin, which is often not on a normal user's PATH.
EXTRA_PATH = ("/usr/sbin", "/usr/local/sbin", "/sbin")
ENCTYPES = "aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal"


class Realm(NamedTuple):
    """A created realm: where its files are and how to reach its KDC."""

    directory: str
    realm: str
    kdc_port: int

    def path(self, name: str) -> str:
        """A file of the realm directory."""
        return os.path.join(self.directory, name)

    @property
    def keytab(self) -> str:
        """Keytab with the keys of the --service principals."""
        return self.path("http.keytab")

    def env(self) -> Dict[str, str]:
        """The environment that points MIT Kerberos (clients, acceptors, tools) at this realm only."""
        return {"KRB5_CONFIG": self.path("krb5.conf"), "KRB5_KDC_PROFILE": self.path("kdc.conf"),
                "KRB5_KTNAME": "FILE:" + self.keytab, "KRB5CCNAME": "FILE:" + self.path("ccache")}


def find_tool(name: str) -> Optional[str]:
    """Full path of an MIT Kerberos tool, also looking in the sbin directories."""
    return shutil.which(name) or shutil.which(name, path=os.pathsep.join(EXTRA_PATH))


def missing_tools(names: Iterable[str] = TOOLS) -> List[str]:
    """Names of the tools that are not installed (empty when a realm can be made)."""
    return [name for name in names if find_tool(name) is None]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (bind port 0, read it, release it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def krb5_conf(realm: Realm) -> str:
    """Client side: this realm only, KDC on 127.0.0.1 over TCP, no DNS lookups or canonicalisation."""
    return ("[libdefaults]\n"
            "    default_realm = {r}\n"
            "    dns_lookup_kdc = false\n"
            "    dns_lookup_realm = false\n"
            "    rdns = false\n"
            "    dns_canonicalize_hostname = false\n"
            "    udp_preference_limit = 1\n"
            "    default_ccache_name = FILE:{ccache}\n"
            "    default_keytab_name = FILE:{keytab}\n"
            "    forwardable = true\n\n"
            "[realms]\n"
            "    {r} = {{\n"
            "        kdc = 127.0.0.1:{port}\n"
            "    }}\n\n"
            "[domain_realm]\n"
            "    localhost = {r}\n"
            "    .{domain} = {r}\n"
            "    {domain} = {r}\n").format(r=realm.realm, port=realm.kdc_port, ccache=realm.path("ccache"),
                                           keytab=realm.keytab, domain=realm.realm.lower())


def kdc_conf(realm: Realm) -> str:
    """KDC side: database, stash and log inside the directory, listening on 127.0.0.1 only."""
    return ("[kdcdefaults]\n"
            "    kdc_listen = 127.0.0.1:{port}\n"
            "    kdc_tcp_listen = 127.0.0.1:{port}\n\n"
            "[realms]\n"
            "    {r} = {{\n"
            "        database_name = {db}\n"
            "        key_stash_file = {stash}\n"
            "        acl_file = {acl}\n"
            "        kdc_listen = 127.0.0.1:{port}\n"
            "        kdc_tcp_listen = 127.0.0.1:{port}\n"
            "        max_life = 10h 0m 0s\n"
            "        max_renewable_life = 1d 0h 0m 0s\n"
            "        supported_enctypes = {enctypes}\n"
            "    }}\n\n"
            "[logging]\n"
            "    kdc = FILE:{log}\n"
            "    admin_server = FILE:{log}\n"
            "    default = FILE:{log}\n").format(r=realm.realm, port=realm.kdc_port, db=realm.path("principal"),
                                                 stash=realm.path("stash"), acl=realm.path("kadm5.acl"),
                                                 enctypes=ENCTYPES, log=realm.path("kdc.log"))


def run_tool(realm: Realm, args: List[str], stdin: Optional[str] = None) -> str:
    """Run a Kerberos admin tool against this realm; returns its stdout.

    kadmin.local echoes its stdin commands (with the passwords) to stdout and exits with 0 even when a
    command fails, so errors are judged from stderr, and only stderr (never stdout) goes into an exception.
    """
    tool = find_tool(args[0])
    if tool is None:
        raise FileNotFoundError(f"{args[0]} is not installed (Debian: apt-get install krb5-kdc krb5-admin-server)")
    result = subprocess.run([tool] + args[1:], input=stdin, env=dict(os.environ, **realm.env()), capture_output=True,
                            text=True, timeout=120, check=False)
    errors = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith("No policy specified")]
    if result.returncode != 0 or (args[0] == "kadmin.local" and errors):
        raise RuntimeError(f"{args[0]} failed (exit {result.returncode}): {' / '.join(errors)}")
    return result.stdout


def kadmin_quote(text: str) -> str:
    """One kadmin.local argument; its command parser understands double quotes."""
    if any(char in text for char in '"\n\r'):
        raise ValueError("a principal name or password may not contain double quotes or line breaks")
    return f'"{text}"'


def create_realm(info: Realm, users: Dict[str, str], services: Iterable[str], unkeyed: Iterable[str] = ()) -> Realm:
    """Make a fresh realm in info.directory (its old realm files are replaced); returns it with an absolute directory.

    users maps a principal name (without realm) to its password; services (for example HTTP/localhost) get
    random keys that are exported to the keytab; unkeyed principals get random keys that are NOT exported
    (for "service key not in the keytab" tests).
    """
    info = info._replace(directory=os.path.abspath(info.directory))
    services, unkeyed = list(services), list(unkeyed)
    os.makedirs(info.directory, exist_ok=True)
    for name in ("principal", "principal.ok", "principal.kadm5", "principal.kadm5.lock", "stash", "http.keytab", "ccache"):
        if os.path.exists(info.path(name)):
            os.unlink(info.path(name))
    for name, text in (("krb5.conf", krb5_conf(info)), ("kdc.conf", kdc_conf(info)), ("kadm5.acl", "")):
        with open(info.path(name), "w", encoding="utf-8") as handle:
            handle.write(text)
    with open(info.path("realm.json"), "w", encoding="utf-8") as handle:
        json.dump({"realm": info.realm, "kdc_port": info.kdc_port}, handle)
    # The master password only protects the stash of a throwaway database; it is never shown.
    run_tool(info, ["kdb5_util", "-r", info.realm, "create", "-s", "-P", secrets.token_urlsafe(24)])
    # Commands go through stdin, so user passwords never appear on a command line (ps).
    commands = [f"addprinc -pw {kadmin_quote(password)} {kadmin_quote(name)}" for name, password in users.items()]
    commands += [f"addprinc -randkey {kadmin_quote(name)}" for name in services + unkeyed]
    commands += [f"ktadd -k {kadmin_quote(info.keytab)} {kadmin_quote(name)}" for name in services]
    run_tool(info, ["kadmin.local", "-r", info.realm], stdin="\n".join(commands) + "\n")
    listed = set(run_tool(info, ["kadmin.local", "-r", info.realm, "-q", "listprincs"]).split())
    missing = [name for name in list(users) + services + unkeyed if (name if "@" in name else f"{name}@{info.realm}") not in listed]
    if missing or (services and not os.path.isfile(info.keytab)):
        raise RuntimeError(f"kadmin.local did not create {', '.join(missing) or info.keytab}")
    return info


def load_realm(directory: str) -> Realm:
    """The realm that create_realm() made in directory."""
    directory = os.path.abspath(directory)
    with open(os.path.join(directory, "realm.json"), encoding="utf-8") as handle:
        data = json.load(handle)
    return Realm(directory, data["realm"], int(data["kdc_port"]))


def kdc_command(realm: Realm) -> List[str]:
    """krb5kdc in the foreground (-n), with its pid file inside the directory."""
    tool = find_tool("krb5kdc")
    if tool is None:
        raise FileNotFoundError("krb5kdc is not installed (Debian: apt-get install krb5-kdc)")
    return [tool, "-n", "-P", realm.path("krb5kdc.pid")]


def start_kdc(realm: Realm, wait: float = 15.0) -> "subprocess.Popen[bytes]":
    """Start krb5kdc in the background; returns once its TCP port answers.  Stop it with .terminate()."""
    with open(realm.path("kdc.out"), "ab") as out:
        process = subprocess.Popen(  # pylint: disable=consider-using-with  # the caller owns and stops the KDC
            kdc_command(realm), env=dict(os.environ, **realm.env()), stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            with socket.create_connection(("127.0.0.1", realm.kdc_port), timeout=1.0):
                return process
        except OSError:
            time.sleep(0.05)
    if process.poll() is None:
        process.kill()
        process.wait()
    with open(realm.path("kdc.log"), "a+", encoding="utf-8") as log:
        log.seek(0)
        raise RuntimeError(f"krb5kdc did not start on 127.0.0.1:{realm.kdc_port} (exit {process.returncode}): {log.read()[-2000:]}")


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    """create DIR ... | run DIR."""
    parser = argparse.ArgumentParser(description="A throwaway MIT Kerberos realm on 127.0.0.1 (no root needed).")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="write the configuration, database, principals and keytab into DIR")
    create.add_argument("directory", metavar="DIR")
    create.add_argument("--realm", default="MIMLAB.TEST", help="realm name (default MIMLAB.TEST)")
    create.add_argument("--kdc-port", type=int, required=True, help="TCP (and UDP) port of the KDC on 127.0.0.1")
    create.add_argument("--user", action="append", default=[], metavar="NAME:PASSWORD", help="a user principal (repeatable)")
    create.add_argument("--service", action="append", default=[], metavar="PRINCIPAL",
                        help="a service principal whose key goes into DIR/http.keytab, e.g. HTTP/localhost (repeatable)")
    create.add_argument("--principal", action="append", default=[], metavar="PRINCIPAL",
                        help="a service principal with a random key that is NOT put into the keytab (repeatable)")
    run = commands.add_parser("run", help="exec krb5kdc -n in the foreground for the realm in DIR")
    run.add_argument("directory", metavar="DIR")
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    """Command line entry point."""
    args = parse_args(argv)
    try:
        if args.command == "run":
            realm = load_realm(args.directory)
            command = kdc_command(realm)
            sys.stdout.flush()
            os.execve(command[0], command, dict(os.environ, **realm.env()))
        users = {}
        for item in args.user:
            name, sep, password = item.partition(":")
            if not sep or not name:
                raise ValueError("--user takes NAME:PASSWORD")
            users[name] = password
        realm = create_realm(Realm(args.directory, args.realm, args.kdc_port), users, args.service, args.principal)
    except (OSError, ValueError, RuntimeError) as exc:
        print(f"krb5_realm: error: {exc}", file=sys.stderr)
        return 2
    for name, value in realm.env().items():
        print(f"export {name}={shlex.quote(value)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
