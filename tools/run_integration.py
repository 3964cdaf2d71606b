"""Run the ansible-test integration targets against MIM CM simulators started for the run.

Usage: python tools/run_integration.py COLLECTION_TREE [ansible-test options...]
Run it with the Python of the virtual environment that has ansible-test; the modules run with that Python too.

It starts, all on 127.0.0.1 and stopped by PID at the end: an anonymous simulator per target (seeded from the
target's files/simulator_seed.json, with the switches in files/simulator_options.json if any; settings under
mim_cm_sim.<target>: url, audit_log, access_log), one speaking Negotiate,
NTLM, Basic and Bearer over HTTP, one over HTTPS that enforces channel bindings, one requiring client certificates,
and a throwaway MIT Kerberos realm (KDC) when the Kerberos tier is available. What the targets need to reach them
goes to tests/integration/integration_config.yml.
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
import time

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIMULATOR = os.path.join(HERE, 'tools', 'simulator', 'mim_cm_simulator.py')
TESTENV = os.path.join(HERE, 'tools', 'testenv')
sys.path.insert(0, TESTENV)

import krb5_realm  # noqa: E402  pylint: disable=wrong-import-position
import pki  # noqa: E402  pylint: disable=wrong-import-position

REALM = 'MIMLAB.TEST'
DOMAIN = 'MIMLAB'
ALICE_UUID = 'a11ce000-0000-4000-8000-000000000001'  # the TargetUserUuid of alice's requests in the cm_auth seed
KERBEROS_TOOLS = ('krb5kdc', 'kdb5_util', 'kadmin.local', 'kinit')
WINDOWS_TARGETS = ('cm_auth', 'awx_runner')  # targets whose requests the Windows-authentication simulators serve


def wait_for(path, process, what):
    """Wait (bounded) for a process to write its port file."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if os.path.exists(path) and open(path, encoding='utf-8').read().strip():
            return int(open(path, encoding='utf-8').read())
        if process.poll() is not None:
            raise SystemExit('%s exited with %s before it was ready' % (what, process.returncode))
        time.sleep(0.05)
    raise SystemExit('%s did not get ready within 20 s' % what)


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
        self.processes = []

    def start(self, name, command, env=None):
        """Start a background process whose output goes to WORK/NAME.out."""
        with open(os.path.join(self.work, name + '.out'), 'wb') as output:
            process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env)  # pylint: disable=consider-using-with
        self.processes.append((name, process))
        return process

    def simulator(self, name, seed, options, env=None):
        """Start one simulator on a free port; return its port and log paths."""
        base = os.path.join(self.work, name)
        command = [sys.executable, SIMULATOR, '--port', '0', '--port-file', base + '.port', '--seed', seed,
                   '--audit-log', base + '.audit.jsonl', '--access-log', base + '.access.jsonl', '--quiet'] + options
        process = self.start(name, command, env)
        port = wait_for(base + '.port', process, 'simulator ' + name)  # it has opened (created) both logs by then
        return {'port': port, 'audit_log': base + '.audit.jsonl', 'access_log': base + '.access.jsonl'}

    def stop(self):
        """Terminate every process, then kill what did not stop within 10 seconds."""
        for _name, process in self.processes:
            if process.poll() is None:
                process.terminate()
        for _name, process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def target_seeds(tree):
    """Each target that needs a simulator brings its requests in files/simulator_seed.json: {target name: seed path}."""
    pattern = os.path.join(tree, 'tests', 'integration', 'targets', '*', 'files', 'simulator_seed.json')
    return dict((path.split(os.sep)[-3], path) for path in sorted(glob.glob(pattern)))


def target_options(seed):
    """Extra simulator switches a target asks for in files/simulator_options.json (a JSON list), e.g. fault injection."""
    path = os.path.join(os.path.dirname(seed), 'simulator_options.json')
    if not os.path.exists(path):
        return []
    with open(path, encoding='utf-8') as handle:
        return [str(option) for option in json.load(handle)]


def windows_seed(work, seeds):
    """The requests of the Windows-authentication simulators: those of cm_auth and of awx_runner (its AWX-style jobs)."""
    requests = []
    for target in WINDOWS_TARGETS:
        if target in seeds:
            with open(seeds[target], encoding='utf-8') as handle:
                requests += json.load(handle)['requests']
    path = os.path.join(work, 'windows-seed.json')
    with open(path, 'w', encoding='utf-8') as handle:
        json.dump({'requests': requests}, handle)
    return path


def create_realm(env, directory, users):
    """A throwaway realm with a running KDC (stopped with the others); returns the Kerberos part of the config."""
    realm = krb5_realm.create_realm(krb5_realm.Realm(directory, REALM, krb5_realm.free_port()), users, ['HTTP/localhost'])
    try:
        env.processes.append(('kdc', krb5_realm.start_kdc(realm, wait=20)))
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
    seeds = target_seeds(tree)
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
    with open(users_file, 'w', encoding='utf-8') as handle:
        json.dump(users, handle)

    env = Environment(work)
    try:
        reason = kerberos_unavailable()
        sim_env = dict(os.environ)
        windows = ['--auth', 'negotiate,ntlm,basic,bearer', '--users', users_file, '--ntlm-domain', DOMAIN]
        if reason:
            print('*** KERBEROS TIER SKIPPED: %s; the Kerberos cases will not run ***' % reason, flush=True)
            auth['kerberos'] = False
        else:
            auth.update(create_realm(env, os.path.join(work, 'krb5'), passwords), kerberos=True)
            sim_env.update(KRB5_CONFIG=auth['krb5_config'])
            windows += ['--keytab', auth['keytab']]
        tls = ['--tls-cert', certs['server.pem'], '--tls-key', certs['server.key']]
        # One anonymous simulator per target, with only that target's requests, so no target sees another's writes.
        plain = dict((target, env.simulator(target, seed, target_options(seed))) for target, seed in seeds.items() if target not in WINDOWS_TARGETS)
        for sim in plain.values():
            sim['url'] = 'http://127.0.0.1:%d' % sim['port']
        seed = windows_seed(work, seeds)
        sims = {'windows': env.simulator('windows', seed, windows, sim_env),
                'tls': env.simulator('tls', seed, windows + tls + ['--require-channel-binding'], sim_env),
                'mtls': env.simulator('mtls', seed, ['--auth', 'basic', '--users', users_file] + tls + ['--client-ca', auth['ca']])}
        auth.update(windows_url='http://localhost:%d' % sims['windows']['port'],
                    windows_ip_url='http://127.0.0.1:%d' % sims['windows']['port'],
                    token_url='http://localhost:%d/adfs/oauth2/token' % sims['windows']['port'],
                    tls_url='https://localhost:%d' % sims['tls']['port'],
                    mtls_url='https://localhost:%d' % sims['mtls']['port'],
                    logs=dict((name, sim['access_log']) for name, sim in sims.items()),
                    audit_logs=dict((name, sim['audit_log']) for name, sim in sims.items()))
        config_path = os.path.join(tree, 'tests', 'integration', 'integration_config.yml')
        with open(config_path, 'w', encoding='utf-8') as handle:
            config = {'mim_cm_sim': plain, 'mim_cm_auth': auth,
                      'mim_cm_fault_matrix_size': int(os.environ.get('MIM_CM_FAULT_MATRIX_SIZE', '200'))}  # make fault-matrix: 1000
            json.dump(config, handle, indent=1)  # JSON is YAML
        ansible_test = os.path.join(os.path.dirname(sys.executable), 'ansible-test')
        command = [ansible_test, 'integration', '--local', '--python-interpreter', sys.executable, '--color', 'no'] + argv[1:]
        # script targets (runme.sh) find the same file at ../../integration_config.yml: ansible-test copies it there
        return subprocess.run(command, cwd=tree, check=False).returncode
    finally:
        env.stop()


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
