"""The local environment of the Windows-authentication tier, then `ansible-test integration` in it.

Usage: python tools/testenv/integration_env.py COLLECTION_TREE [ansible-test integration options and targets...]
Run it with the Python of the virtual environment that has ansible-test; the modules run with that Python too.

Most targets need nothing from here: each starts and stops its own simulator (the setup_mim_cm_simulator role, or
its runme.sh through tests/simulator/run_simulator.py), so `ansible-test integration NAME` runs them alone. The
targets that read `mim_cm_auth` (the Windows-authentication tier: cm_auth, secrets, awx_runner) need what this step
provides for the whole run, all on 127.0.0.1 and stopped by PID at the end: a test PKI, users with fresh random
secrets, a throwaway MIT Kerberos realm (KDC) when the Kerberos tier is available, and three simulators holding the
requests of every target's files/windows_seed.json: one speaking Negotiate, NTLM, Basic and Bearer over HTTP, one
over HTTPS that enforces channel bindings, one requiring client certificates. What the targets need to reach them
goes to tests/integration/integration_config.yml (removed at the end: it names processes that no longer run), with
mim_cm_fault_matrix_size when MIM_CM_FAULT_MATRIX_SIZE is set (make fault-matrix: 1000; the target's default: 200).
"""

from __future__ import annotations

import glob
import importlib.util
import json
import os
import secrets
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(HERE, 'tools', 'testenv'))
sys.path.insert(0, os.path.join(HERE, 'tests', 'simulator'))

import krb5_realm  # noqa: E402  pylint: disable=wrong-import-position
import pki  # noqa: E402  pylint: disable=wrong-import-position
from mim_cm_sim import launch  # noqa: E402  pylint: disable=wrong-import-position

REALM = 'MIMLAB.TEST'
DOMAIN = 'MIMLAB'
ALICE_UUID = 'a11ce000-0000-4000-8000-000000000001'  # the TargetUserUuid of alice's requests in the cm_auth seed
KERBEROS_TOOLS = ('krb5kdc', 'kdb5_util', 'kadmin.local', 'kinit')


def kerberos_unavailable():
    """Why the Kerberos tier cannot run here, or None when it can."""
    marker = os.path.join(HERE, 'build', 'kerberos-unavailable')
    if os.path.exists(marker):
        return open(marker, encoding='utf-8').read().strip()
    missing = krb5_realm.missing_tools(KERBEROS_TOOLS)
    if missing:
        return 'missing %s (run make kerberos)' % ', '.join(missing)
    if importlib.util.find_spec('gssapi') is None:
        return 'the Python library gssapi is not installed (run make kerberos)'
    return None


class Environment:
    """The processes of one integration run; each is stopped by its PID."""

    def __init__(self, work):
        self.work = work
        self.kdc = None
        self.simulators = {}

    def simulator(self, name, seed, options, env=None):
        """Start one simulator on a free port, its files in WORK/NAME; return it (port, audit_log, access_log)."""
        try:
            self.simulators[name] = launch.start(os.path.join(self.work, name), ['--seed', seed] + options, env=env, timeout=20)
        except launch.SimulatorError as exc:
            raise SystemExit('simulator %s: %s' % (name, exc)) from exc
        return self.simulators[name]

    def stop(self):
        """Terminate every process, then kill what did not stop within 10 seconds."""
        for sim in self.simulators.values():
            sim.stop()
        if self.kdc is not None and self.kdc.poll() is None:
            self.kdc.terminate()
            try:
                self.kdc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kdc.kill()
                self.kdc.wait()


def windows_seed(tree, work):
    """The requests of the Windows-authentication simulators: those of every target's files/windows_seed.json."""
    requests = []
    for path in sorted(glob.glob(os.path.join(tree, 'tests', 'integration', 'targets', '*', 'files', 'windows_seed.json'))):
        with open(path, encoding='utf-8') as handle:
            requests += json.load(handle)['requests']
    path = os.path.join(work, 'windows-seed.json')
    with open(path, 'w', encoding='utf-8') as handle:
        json.dump({'requests': requests}, handle)
    return path


def create_realm(env, directory, users):
    """A throwaway realm with a running KDC (stopped with the others); returns the Kerberos part of the config."""
    realm = krb5_realm.create_realm(krb5_realm.Realm(directory, REALM, krb5_realm.free_port()), users, ['HTTP/localhost'])
    try:
        env.kdc = krb5_realm.start_kdc(realm, wait=20)
    except RuntimeError as exc:
        raise SystemExit(str(exc)) from exc
    dead_config = realm.path('krb5-kdc-down.conf')  # the same realm, but its KDC port has nothing listening
    with open(dead_config, 'w', encoding='utf-8') as handle:
        handle.write(krb5_realm.krb5_conf(realm._replace(kdc_port=krb5_realm.free_port())))
    return {'krb5_config': realm.env()['KRB5_CONFIG'], 'krb5_dead_config': dead_config, 'keytab': realm.keytab,
            'ccache': 'FILE:' + realm.path('ansible-ccache')}


def main(argv):
    """Set up, run ansible-test integration, tear down; exit with ansible-test's status."""
    tree = os.path.abspath(argv[0])
    work = os.path.join(tree, 'tests', 'output', 'integration-env')
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    certs = pki.create_pki(os.path.join(work, 'pki'))

    passwords = {'alice': 'A1-' + secrets.token_urlsafe(12), 'bob': 'B2-' + secrets.token_urlsafe(12)}
    auth = {'domain': DOMAIN, 'realm': REALM, 'passwords': passwords, 'client_id': 'ansible-provisioning',
            'client_secret': 'S3-' + secrets.token_urlsafe(16), 'static_token': 'T4-' + secrets.token_urlsafe(24),
            'ca': certs['ca.pem'], 'other_ca': certs['other-ca.pem'], 'client_cert': certs['client.pem'], 'client_key': certs['client.key']}
    users = {'users': {'alice': {'password': passwords['alice'], 'rights': ['read', 'write'], 'uuid': ALICE_UUID},
                       'bob': {'password': passwords['bob'], 'rights': ['read']}},
             'clients': {auth['client_id']: {'secret': auth['client_secret'], 'user': 'alice'}},
             'tokens': {auth['static_token']: 'alice'}}
    users_file = os.path.join(work, 'users.json')
    with open(os.open(users_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 'w', encoding='utf-8') as handle:
        json.dump(users, handle)

    config_path = os.path.join(tree, 'tests', 'integration', 'integration_config.yml')
    env = Environment(work)
    try:
        reason = kerberos_unavailable()
        sim_env = {}
        windows = ['--auth', 'negotiate,ntlm,basic,bearer', '--users', users_file, '--ntlm-domain', DOMAIN]
        if reason:
            print('*** KERBEROS TIER SKIPPED: %s; the Kerberos cases will not run ***' % reason, flush=True)
            auth['kerberos'] = False
        else:
            auth.update(create_realm(env, os.path.join(work, 'krb5'), passwords), kerberos=True)
            sim_env['KRB5_CONFIG'] = auth['krb5_config']
            windows += ['--keytab', auth['keytab']]
        tls = ['--tls-cert', certs['server.pem'], '--tls-key', certs['server.key']]
        seed = windows_seed(tree, work)
        sims = {'windows': env.simulator('windows', seed, windows, sim_env),
                'tls': env.simulator('tls', seed, windows + tls + ['--require-channel-binding'], sim_env),
                'mtls': env.simulator('mtls', seed, ['--auth', 'basic', '--users', users_file] + tls + ['--client-ca', auth['ca']])}
        auth.update(windows_url='http://localhost:%d' % sims['windows'].port,
                    windows_ip_url='http://127.0.0.1:%d' % sims['windows'].port,
                    token_url='http://localhost:%d/adfs/oauth2/token' % sims['windows'].port,
                    tls_url='https://localhost:%d' % sims['tls'].port,
                    mtls_url='https://localhost:%d' % sims['mtls'].port,
                    logs=dict((name, sim.access_log) for name, sim in sims.items()),
                    audit_logs=dict((name, sim.audit_log) for name, sim in sims.items()))
        config = {'mim_cm_auth': auth}
        if os.environ.get('MIM_CM_FAULT_MATRIX_SIZE'):
            config['mim_cm_fault_matrix_size'] = int(os.environ['MIM_CM_FAULT_MATRIX_SIZE'])
        with open(os.open(config_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 'w', encoding='utf-8') as handle:
            json.dump(config, handle, indent=1)  # JSON is YAML
        ansible_test = os.path.join(os.path.dirname(sys.executable), 'ansible-test')
        command = [ansible_test, 'integration', '--local', '--python-interpreter', sys.executable, '--color', 'no'] + argv[1:]
        # script targets (runme.sh) find the same file at ../../integration_config.yml: ansible-test copies it there
        return subprocess.run(command, cwd=tree, check=False).returncode
    finally:
        env.stop()
        if os.path.exists(config_path):
            os.unlink(config_path)


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
