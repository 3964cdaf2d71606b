# -*- coding: utf-8 -*-
# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""make bench: how fast cm_request_status finalizes requests, against MIM CM simulators on 127.0.0.1.

Usage: python tools/bench/bench.py --build BUILD   (BUILD/collections holds the installed collection)

Scenarios, each on Approved requests that no other run touches (every id is seeded at the start):
  a  ansible.builtin.uri in a loop: GET every request, then PUT those not final (uri_loop.yml)
  b  cm_request_status looped, one task run per id (module_loop.yml)
  c  cm_request_status batch, request_ids with the default concurrency (module_batch.yml)
  d  the floor: one Python process, requests.Session, GET then PUT per id, sequential (d1) and concurrent (dC)
  e  a no-op playbook: one task running ansible.builtin.ping (noop.yml), Ansible's fixed start-up cost
  f  the fleet: whole ansible-playbook runs over inventories of N local-connection hosts (--fleet-sizes), forks 5,
     each host with a request id of its own: a no-op set_fact per host (fleet_set_fact.yml), ansible.builtin.ping per
     host (fleet_ping.yml), the finalize_request role (fleet_role.yml), one run_once batch task with every host's id
     (fleet_batch.yml), and two ansible.builtin.uri tasks per host (fleet_uri.yml)
c and d also run against a simulator that demands NTLM. The module's Python is a wrapper that records the module
process's peak RSS and wall time. After each run the simulator's audit log must show exactly that run's ids moved
Approved -> Completed (for the fleet's set_fact and ping: that nothing was written), and at the end a search must list
every id Completed.

The benchmark exits 0 when every run worked, whatever the targets say (it reports them), and 1 when a run failed.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import importlib.metadata
import json
import os
import platform
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid

from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'simulator'))
from mim_cm_sim import launch  # noqa: E402  pylint: disable=wrong-import-position
API = '/CertificateManagement/api/v1.0/requests'
# MIM CM status codes (the CM database's, tests/simulator/README.md "Status table"): the final ones, and Completed.
FINAL = (4, 8, 9, 17)  # Denied, Completed, Failed, Canceled; an abandoned request reads Failed
COMPLETED = 8
DOMAIN = 'MIMLAB'
CONCURRENCY = 8  # cm_request_status's default
PLAYBOOKS = {'a': 'uri_loop.yml', 'b': 'module_loop.yml', 'c': 'module_batch.yml', 'e': 'noop.yml'}
LABELS = {'a': 'a uri loop', 'b': 'b module loop', 'c': 'c module batch', 'd1': 'd floor, 1 thread', 'dC': 'd floor, %d threads' % CONCURRENCY,
          'e': 'e no-op playbook'}
# The fleet variants, in the order each round runs them: playbook, label (the table's), tasks per host, writes or not.
FLEET = {'set_fact': ('fleet_set_fact.yml', 'set_fact no-op', 1, False), 'ping': ('fleet_ping.yml', 'ping', 1, False),
         'role': ('fleet_role.yml', 'role', 3, True), 'batch': ('fleet_batch.yml', 'batch', 1, True),
         'uri': ('fleet_uri.yml', 'uri GET+PUT', 2, True)}
FORKS = 5  # Ansible's default, passed explicitly so that no ansible.cfg or ANSIBLE_FORKS changes it
FLEET_REPEAT_UP_TO = 200  # fleets up to this many hosts run --fleet-repeat rounds; larger ones run once
TARGET_HOSTS = 200  # issue 14: at 200 hosts the role takes at most half the time of a trivial module run once per host

# The module's interpreter: runs the real one as a child and appends its peak RSS, CPU and wall time to a file.
WRAPPER = '''#!{python} -S
import os, sys, time
start = time.monotonic()
pid = os.posix_spawn({python!r}, [{python!r}] + sys.argv[1:], os.environ)
_pid, status, usage = os.wait4(pid, 0)
with open({log!r}, 'a') as log:
    log.write('{{"maxrss_kb": %d, "cpu": %.4f, "wall": %.4f}}\\n' % (usage.ru_maxrss, usage.ru_utime + usage.ru_stime, time.monotonic() - start))
sys.exit(os.waitstatus_to_exitcode(status))
'''


class BenchError(Exception):
    """A run that failed or did not do its work: the benchmark's figures cannot be trusted."""


# ---------------------------------------------------------------- child processes: the floor and the simulator load

def _session(spec):
    """A requests.Session; for NTLM, authenticated with a handshake on its one kept-alive connection."""
    import requests  # pylint: disable=import-outside-toplevel
    session = requests.Session()
    session.headers.update({'Accept': 'application/json'})
    if spec.get('auth') == 'ntlm':
        import spnego  # pylint: disable=import-outside-toplevel
        context = spnego.client(spec['username'], spec['password'], hostname='127.0.0.1', service='HTTP', protocol='ntlm')
        answer = None
        token = context.step()
        url = spec['url'] + API + '/' + spec['ids'][0]
        while token:
            answer = session.get(url, headers={'Authorization': 'NTLM ' + base64.b64encode(token).decode()}, timeout=30)
            challenge = re.search(r'NTLM\s+(\S+)', answer.headers.get('WWW-Authenticate', ''))
            token = context.step(base64.b64decode(challenge.group(1))) if answer.status_code == 401 and challenge else None
        if answer is None or answer.status_code != 200:
            raise BenchError('NTLM handshake failed: HTTP %s' % (answer.status_code if answer is not None else None))
    return session


def floor(spec):
    """Scenario d: GET then PUT per id with plain requests, `concurrency` threads each with its own Session."""
    import resource  # pylint: disable=import-outside-toplevel
    local = threading.local()
    base = spec['url'] + API + '/'
    firsts = []  # how long each connection's first call took: a full listen backlog shows as 1 s (SYN retry)

    def one(request_id):
        session, started = getattr(local, 'session', None), time.monotonic()
        first = session is None
        if first:
            session = local.session = _session(spec)
        answer = session.get(base + request_id, timeout=30)
        if first:
            firsts.append(time.monotonic() - started)
        answer.raise_for_status()
        if answer.json()['Status'] not in FINAL:
            answer = session.put(base + request_id, json={'status': 'Completed'}, timeout=30)
            answer.raise_for_status()
            if answer.json()['Status'] != COMPLETED:
                raise BenchError('%s did not become Completed' % request_id)

    start = time.monotonic()
    if spec['concurrency'] == 1:
        for request_id in spec['ids']:
            one(request_id)
    else:
        with ThreadPoolExecutor(max_workers=spec['concurrency']) as pool:
            list(pool.map(one, spec['ids']))
    return {'wall': time.monotonic() - start, 'maxrss_kb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, 'first_call_max': max(firsts)}


def hammer(spec):
    """The simulator's own throughput: `concurrency` threads, each on its own kept-alive connection, GET one request."""
    import http.client  # pylint: disable=import-outside-toplevel
    per_thread = spec['calls'] // spec['concurrency']
    path = API + '/' + spec['ids'][0]

    def worker(_index):
        connection = http.client.HTTPConnection('127.0.0.1', spec['port'], timeout=30)
        for _call in range(per_thread):
            connection.request('GET', path, headers={'Accept': 'application/json'})
            answer = connection.getresponse()
            answer.read()
            if answer.status != 200:
                raise BenchError('GET %s answered %s' % (path, answer.status))
        connection.close()

    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=spec['concurrency']) as pool:
        list(pool.map(worker, range(spec['concurrency'])))
    return {'wall': time.monotonic() - start, 'calls': per_thread * spec['concurrency']}


# ---------------------------------------------------------------- simulators

def cpu_seconds(pid):
    """CPU time a process has used so far (Linux /proc), or None."""
    try:
        with open('/proc/%d/stat' % pid, encoding='ascii') as stat:
            fields = stat.read().rsplit(')', 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


class Simulator:
    """One simulator process on 127.0.0.1 with its own seed and audit log; stopped by its PID."""

    def __init__(self, work, name, ids, options=()):
        self.name = name
        self.audit_log = os.path.join(work, name + '.audit.jsonl')
        self._offset = 0
        seed = os.path.join(work, name + '.seed.json')
        write_json(seed, {'requests': [{'Uuid': request_id, 'Status': 'Approved'} for request_id in ids]})
        try:  # no access log: one line per call would cost the throughput that the benchmark measures
            self.sim = launch.start(os.path.join(work, name), ['--seed', seed, '--audit-log', self.audit_log] + list(options),
                                    access_log=False, timeout=60)
        except launch.SimulatorError as exc:
            raise BenchError('simulator %s did not start: %s' % (name, exc)) from exc
        self.process = self.sim.process
        self.port = self.sim.port
        self.url = self.sim.url

    def cpu_seconds(self):
        """CPU time the simulator has used so far (Linux /proc), or None."""
        return cpu_seconds(self.process.pid)

    def check_completed(self, ids, what):
        """The audit lines written since the last check must be exactly ids, each moved Approved -> Completed once."""
        with open(self.audit_log, encoding='utf-8') as log:
            log.seek(self._offset)
            lines = [json.loads(line) for line in log.read().splitlines()]
            self._offset = log.tell()
        moved = [line['request_id'] for line in lines
                 if line.get('event') == 'applied' and line.get('from') == 'Approved' and line.get('to') == 'Completed']
        if len(lines) != len(ids) or len(moved) != len(ids) or set(moved) != set(ids):
            raise BenchError('%s: the simulator applied %d of %d expected writes (%d audit lines); it did not do its work'
                             % (what, len(set(moved) & set(ids)), len(ids), len(lines)))

    def completed_ids(self, spec):
        """Every id the simulator now lists as Completed (one search call)."""
        session = _session(dict(spec, url=self.url))
        answer = session.get(self.url + API, params={'status': 'Completed'}, timeout=120)
        answer.raise_for_status()
        return set(item['Uuid'] for item in answer.json()) if answer.content else set()

    def stop(self):
        """Terminate, and kill what did not stop within 10 seconds."""
        self.sim.stop()


# ---------------------------------------------------------------- running the scenarios

def write_json(path, data):
    """Write a JSON file readable only by us (it may hold a password)."""
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 'w', encoding='utf-8') as handle:
        json.dump(data, handle)


def run_child(command, log, timeout, env=None, cwd=None):
    """Run a process, output to log; return (wall seconds, CPU seconds of it and its waited-for descendants)."""
    start = time.monotonic()
    with open(log, 'wb') as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env, cwd=cwd)  # pylint: disable=consider-using-with
    deadline = start + timeout
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            process.kill()
            process.wait()
            raise BenchError('%s did not finish within %d s; see %s' % (os.path.basename(command[1]), timeout, log))
        time.sleep(0.02)
    wall = time.monotonic() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        with open(log, encoding='utf-8', errors='replace') as output:
            tail = ''.join(output.readlines()[-15:])
        raise BenchError('%s exited with %s; see %s:\n%s' % (' '.join(command[:2]), process.returncode, log, tail))
    return wall, usage.ru_utime + usage.ru_stime


class Bench:
    """The runs of one benchmark: the simulators, the ids each run owns, and every figure measured."""

    def __init__(self, args, work):
        self.args = args
        self.work = work
        self.rows = []
        self.runs = 0
        self.password = 'P-' + secrets.token_urlsafe(16)
        self.ansible_env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(args.build, 'collections'),
                                ANSIBLE_LOCAL_TEMP=os.path.join(work, 'ansible-local'), ANSIBLE_REMOTE_TMP=os.path.join(work, 'ansible-remote'),
                                ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0', ANSIBLE_RETRY_FILES_ENABLED='0')
        self.pool = {}  # (auth, scenario, n, repetition) -> ids
        self.stalls = []  # d runs in which a new connection waited about a second to be accepted
        self.fleet_rows = []  # one per fleet size and variant: the median run

    def ids(self, auth, scenario, size, repetition=0):
        """The ids one run owns; the same call before and after seeding gives the same ids."""
        key = (auth, scenario, size, repetition)
        if key not in self.pool:
            self.pool[key] = [str(uuid.uuid4()) for _index in range(size)]
        return self.pool[key]

    def plan(self):
        """(auth, scenario, n, repetitions) of every run, in the order they run: the no-op playbook first."""
        args, plan = self.args, [('none', 'e', 0, self.args.repeat)]
        for size in args.sizes:
            plan += [('none', 'a', size, 1)] if size in args.loop_sizes else []
            plan += [('none', 'b', size, 1)] if size in args.loop_sizes else []
            plan += [('none', scenario, size, args.repeat) for scenario in ('c', 'd1', 'dC')]
        plan += [('ntlm', scenario, size, args.repeat) for size in args.sizes for scenario in ('c', 'd1', 'dC')]
        if args.memory_size:
            plan.append(('none', 'c', args.memory_size, 1))
        return plan

    def auth_spec(self, auth):
        """The credentials of a simulator (none for the anonymous one)."""
        if auth == 'ntlm':
            return {'auth': 'ntlm', 'username': DOMAIN + '\\bench', 'password': self.password}
        return {'auth': 'none'}

    def playbook(self, scenario, sim, auth, ids):
        """Run one playbook; return wall, CPU and the module processes' figures from the wrapper."""
        self.runs += 1
        name = 'run%03d-%s' % (self.runs, scenario)
        peak_log = os.path.join(self.work, name + '.peak.jsonl')
        wrapper = os.path.join(self.work, name + '.python')
        with open(wrapper, 'w', encoding='utf-8') as handle:
            handle.write(WRAPPER.format(python=sys.executable, log=peak_log))
        os.chmod(wrapper, 0o700)
        extra = {'bench_url': sim.url, 'bench_ids': ids, 'ansible_python_interpreter': wrapper}
        extra.update(('bench_' + key, value) for key, value in self.auth_spec(auth).items())
        write_json(os.path.join(self.work, name + '.vars.json'), extra)
        command = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), os.path.join(HERE, PLAYBOOKS[scenario]),
                   '-i', 'localhost,', '-c', 'local', '-e', '@' + os.path.join(self.work, name + '.vars.json')]
        tasks = {'a': 2, 'b': 1}.get(scenario, 0)
        wall, cpu = run_child(command, os.path.join(self.work, name + '.log'), 120 + 2 * tasks * len(ids) + len(ids) // 50,
                              self.ansible_env, self.work)
        modules = []
        if os.path.exists(peak_log):
            with open(peak_log, encoding='utf-8') as lines:
                modules = [json.loads(line) for line in lines]
        return {'wall': wall, 'cpu': cpu, 'peak_mb': max([m['maxrss_kb'] for m in modules] or [0]) / 1024,
                'module_runs': len(modules), 'module_wall': sum(m['wall'] for m in modules), 'module_cpu': sum(m['cpu'] for m in modules)}

    def child(self, mode, spec):
        """Run this file as a child process in floor or hammer mode; return its JSON answer plus wall and CPU."""
        self.runs += 1
        name = 'run%03d-%s' % (self.runs, mode)
        spec_file = os.path.join(self.work, name + '.spec.json')
        write_json(spec_file, spec)
        log = os.path.join(self.work, name + '.log')
        process_wall, cpu = run_child([sys.executable, os.path.abspath(__file__), '--' + mode, spec_file], log, 600)
        with open(log, encoding='utf-8') as output:
            answer = json.loads(output.read().splitlines()[-1])
        return dict(answer, process_wall=process_wall, cpu=cpu)

    def run(self, sims, auth, scenario, size, repetition):
        """One run of one scenario: measure it, then check the simulator did exactly its work."""
        sim, ids = sims[auth], self.ids(auth, scenario, size, repetition)
        before = sim.cpu_seconds()
        if scenario in ('d1', 'dC'):
            figures = self.child('floor', dict(self.auth_spec(auth), url=sim.url, ids=ids, concurrency=1 if scenario == 'd1' else CONCURRENCY))
            figures['peak_mb'] = figures.pop('maxrss_kb') / 1024
            if figures['first_call_max'] > 0.5:
                self.stalls.append('%s %s N=%d: %.2f s' % (auth, scenario, size, figures['first_call_max']))
        else:
            figures = self.playbook(scenario, sim, auth, ids)
        after = sim.cpu_seconds()
        figures['sim_cpu'] = after - before if before is not None and after is not None else None
        if scenario != 'e':
            sim.check_completed(ids, '%s N=%d (%s)' % (scenario, size, auth))
        return figures

    def measure(self, sims, auth, scenario, size, repetitions):
        """Run a scenario `repetitions` times and keep the run with the median wall time."""
        runs = sorted((self.run(sims, auth, scenario, size, repetition) for repetition in range(repetitions)), key=lambda run: run['wall'])
        row = dict(runs[len(runs) // 2], auth=auth, scenario=scenario, n=size, repetitions=repetitions,
                   walls=[run['wall'] for run in runs], concurrency=CONCURRENCY if scenario in ('c', 'dC') else 1)
        row['calls'] = 2 * size if scenario != 'e' else 0
        self.rows.append(row)
        print('  %-4s %-20s N=%-5d %8.2f s  %8.1f req/s  peak %6.1f MB  sim busy %s' % (
            auth, LABELS[scenario], size, row['wall'], size / row['wall'] if size else 0, row['peak_mb'], busy(row)), flush=True)
        return row

    def fleet_rounds(self, size):
        """How many rounds of the fleet variants run at this number of hosts."""
        return self.args.fleet_repeat if size <= FLEET_REPEAT_UP_TO else 1

    def fleet_ids(self, variant, size, repetition):
        """The request ids of a fleet run's hosts: seeded ones for a variant that writes, never-seeded ones otherwise."""
        if FLEET[variant][3]:
            return self.ids('none', 'fleet-' + variant, size, repetition)
        return [str(uuid.uuid4()) for _index in range(size)]

    def fleet_playbook(self, variant, sim, ids):
        """One whole ansible-playbook run of a fleet variant over an inventory of one local-connection host per id."""
        self.runs += 1
        name = 'run%03d-fleet-%s-%d' % (self.runs, variant, len(ids))
        inventory = os.path.join(self.work, name + '.inventory.json')  # JSON is YAML: the yaml inventory plugin reads it
        write_json(inventory, {'all': {'vars': {'ansible_connection': 'local'},
                                       'hosts': {'host%05d' % index: {'cm_request_id': request_id} for index, request_id in enumerate(ids)}}})
        write_json(os.path.join(self.work, name + '.vars.json'), {'bench_url': sim.url})
        command = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), os.path.join(HERE, FLEET[variant][0]),
                   '-i', inventory, '--forks', str(FORKS), '-e', '@' + os.path.join(self.work, name + '.vars.json')]
        return run_child(command, os.path.join(self.work, name + '.log'), 120 + 2 * FLEET[variant][2] * len(ids), self.ansible_env, self.work)

    def measure_fleet(self, sim, size):
        """Every fleet variant over `size` hosts, in rounds (each round runs each variant once); the median run counts.

        After each run the audit log must show that run's ids each moved Approved -> Completed once, or no write at all.
        """
        runs = {variant: [] for variant in FLEET}
        for repetition in range(self.fleet_rounds(size)):
            for variant in FLEET:
                ids = self.fleet_ids(variant, size, repetition)
                before = sim.cpu_seconds()
                wall, cpu = self.fleet_playbook(variant, sim, ids)
                after = sim.cpu_seconds()
                sim.check_completed(ids if FLEET[variant][3] else [], 'fleet %s, %d hosts' % (variant, size))
                runs[variant].append({'wall': wall, 'cpu': cpu, 'sim_cpu': after - before if before is not None and after is not None else None})
        for variant, measured in runs.items():
            measured.sort(key=lambda run: run['wall'])
            row = dict(measured[len(measured) // 2], variant=variant, n=size, walls=[run['wall'] for run in measured],
                       audit='%d applied once' % size if FLEET[variant][3] else 'no writes')
            self.fleet_rows.append(row)
            print('  fleet %-14s hosts=%-5d %8.2f s  %6.1f ms/host  client CPU %7.2f s  sim busy %s  audit: %s' % (
                FLEET[variant][1], size, row['wall'], 1000 * row['wall'] / size, row['cpu'], busy(row), row['audit']), flush=True)


def busy(row):
    """The simulator's CPU time as a share of the run's wall time (100% = one core, which is all its GIL allows)."""
    return '%3.0f%%' % (100 * row['sim_cpu'] / row['wall']) if row.get('sim_cpu') is not None else '  ? '


def import_profile(build, module):
    """python -X importtime of one module as Ansible would load it: total milliseconds and the heaviest packages."""
    env = dict(os.environ, PYTHONPATH=os.path.join(build, 'collections'))
    process = subprocess.run([sys.executable, '-X', 'importtime', '-c', 'import ' + module], capture_output=True, text=True,
                             env=env, timeout=120, check=False)
    cumulative = {}
    for line in process.stderr.splitlines():
        match = re.match(r'import time:\s+\d+\s*\|\s*(\d+)\s*\|( *)(\S+)', line)
        if match:
            cumulative.setdefault(match.group(3), (int(match.group(1)) / 1000.0, len(match.group(2))))
    if process.returncode or module not in cumulative:
        return {'total_ms': None, 'parts': []}
    heavy = ('ansible.module_utils.basic', 'ansible.module_utils.urls', 'requests', 'spnego', 'krb5', 'gssapi', 'cryptography.x509')
    parts = [(name, cumulative[name][0]) for name in heavy if name in cumulative]
    return {'total_ms': cumulative[module][0], 'parts': parts}


def machine():
    """What ran the benchmark."""
    model = ''
    if os.path.exists('/proc/cpuinfo'):
        with open('/proc/cpuinfo', encoding='utf-8', errors='replace') as cpuinfo:
            model = next((line.split(':', 1)[1].strip() for line in cpuinfo if line.startswith('model name')), '')
    return {'cpus': os.cpu_count(), 'cpu_model': model, 'platform': platform.platform(), 'python': platform.python_version(),
            'ansible_core': importlib.metadata.version('ansible-core'), 'requests': importlib.metadata.version('requests'),
            'date': datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}


# ---------------------------------------------------------------- the report

def find(rows, scenario, size, auth='none'):
    """The row of one scenario, or None when it did not run."""
    return next((row for row in rows if row['scenario'] == scenario and row['n'] == size and row['auth'] == auth), None)


def table(rows, throughput):
    """The Markdown table of every run, then the simulator's own throughput."""
    lines = ['| auth | scenario | N | threads | wall s | runs: min..max s | requests/s | HTTP calls/s | client CPU s | simulator busy | peak MB |',
             '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |']
    for row in rows:
        rate = '%.1f' % (row['n'] / row['wall']) if row['n'] else ''
        calls = '%.0f' % (row['calls'] / row['wall']) if row['calls'] else ''
        spread = '%d: %.2f..%.2f' % (len(row['walls']), row['walls'][0], row['walls'][-1]) if len(row['walls']) > 1 else ''
        lines.append('| %s | %s | %s | %d | %.2f | %s | %s | %s | %.2f | %s | %.1f |' % (
            row['auth'], LABELS[row['scenario']], row['n'] or '', row['concurrency'], row['wall'], spread, rate, calls, row['cpu'],
            busy(row).strip(), row['peak_mb']))
    for load in throughput:
        lines.append('| none | simulator alone: GET, %d thread(s) | %d | %d | %.2f | | | %.0f | %.2f | %s | |' % (
            load['concurrency'], load['calls'], load['concurrency'], load['wall'], load['calls'] / load['wall'], load['cpu'], busy(load).strip()))
    return lines


def verdicts(rows, throughput, imports):
    """Each target: (name, PASS/MISS/NOT RUN, the numbers, what bounds it when missed); then the ratios."""
    results, ratios = [], []
    sizes = sorted(set(row['n'] for row in rows if row['scenario'] == 'c'))
    for size in sizes:
        a, b, c, d1, d_c = (find(rows, scenario, size) for scenario in ('a', 'b', 'c', 'd1', 'dC'))
        if a and c:
            ratios.append('N=%d: c vs a: batch %.1fx faster than the uri loop' % (size, a['wall'] / c['wall']))
        if c and d_c:
            ratios.append('N=%d: c vs d: batch wall %.2fx the floor with %d threads (%.2fx the sequential floor)'
                          % (size, c['wall'] / d_c['wall'], CONCURRENCY, c['wall'] / d1['wall']))
        if a and b:
            ratios.append('N=%d: b vs a: module loop %.2fx faster than the uri loop' % (size, a['wall'] / b['wall']))
        c_ntlm, d_ntlm = find(rows, 'c', size, 'ntlm'), find(rows, 'dC', size, 'ntlm')
        if c_ntlm and d_ntlm:
            ratios.append('N=%d: NTLM c vs d: batch wall %.2fx the floor with %d threads' % (size, c_ntlm['wall'] / d_ntlm['wall'], CONCURRENCY))
    e = find(rows, 'e', 0)

    def import_note(name):
        profile = imports[name]
        return '%s imports %.0f ms (%s)' % (name, profile['total_ms'] or 0, ', '.join('%s %.0f' % part for part in profile['parts']))

    a, c, d_c = find(rows, 'a', 200), find(rows, 'c', 200), find(rows, 'dC', 200)
    if a and c:
        speedup = a['wall'] / c['wall']
        results.append(('N=200: batch at least 60x faster than the uri loop', speedup >= 60, 'a %.1f s / c %.2f s = %.1fx' % (a['wall'], c['wall'], speedup),
                        'c is mostly fixed cost: of its %.2f s, its module process took %.2f s (the floor does the same HTTP in %.2f s) and '
                        'Ansible the rest (the no-op playbook alone takes %.2f s); a costs %.3f s per module run, %.3f s of it in the uri '
                        'module process (%s)'
                        % (c['wall'], c['module_wall'], d_c['wall'], e['wall'], a['wall'] / a['module_runs'], a['module_wall'] / a['module_runs'],
                           import_note('uri'))))
    c, d_c = find(rows, 'c', 1000), find(rows, 'dC', 1000)
    if c and d_c:
        bound = e['wall'] + 1.2 * d_c['wall']
        overhead = c['wall'] - e['wall'] - d_c['wall']
        results.append(('N=1000: batch wall at most no-op playbook + 1.2x floor at %d threads' % CONCURRENCY, c['wall'] <= bound,
                        'c %.2f s vs e %.2f s + 1.2 x d %.2f s = %.2f s' % (c['wall'], e['wall'], d_c['wall'], bound),
                        'beyond start-up and HTTP, c spends %.2f s: its module process ran %.2f s wall using %.2f s CPU (%.0f%% of one core: '
                        'the GIL bounds the %d workers to one core shared with JSON and result building), %s%s; the simulator was busy %s'
                        % (overhead, c['module_wall'], c['module_cpu'], 100 * c['module_cpu'] / max(c['module_wall'], 1e-9), CONCURRENCY,
                           import_note('cm_request_status'), spnego_note(imports), busy(c).strip())))
    pairs = [(size, find(rows, 'a', size), find(rows, 'b', size)) for size in sizes]
    pairs = [(size, a, b) for size, a, b in pairs if a and b]
    if pairs:
        worst = min(a['wall'] / b['wall'] for _size, a, b in pairs)
        a, b = pairs[-1][1], pairs[-1][2]
        results.append(('module loop at least 1.8x faster than the uri loop (every N)', worst >= 1.8,
                        ', '.join('N=%d %.2fx' % (size, a_row['wall'] / b_row['wall']) for size, a_row, b_row in pairs),
                        'per module run (N=%d): uri %.3f s (its process %.3f s), cm_request_status %.3f s (its process %.3f s); the rest '
                        'is Ansible running a task, the same for both; %s; %s%s'
                        % (pairs[-1][0], a['wall'] / a['module_runs'], a['module_wall'] / a['module_runs'], b['wall'] / b['module_runs'],
                           b['module_wall'] / b['module_runs'], import_note('uri'), import_note('cm_request_status'), spnego_note(imports))))
    memory = max((row for row in rows if row['scenario'] == 'c' and row['auth'] == 'none'), key=lambda row: row['n'], default=None)
    if memory and memory['n'] >= 10000:
        results.append(('N=%d: module peak memory under 150 MB' % memory['n'], memory['peak_mb'] < 150,
                        '%.1f MB (wall %.2f s)' % (memory['peak_mb'], memory['wall']),
                        'the results list and its JSON hold every Request object the server sent'))
    fastest = max((row['calls'] / row['wall'] for row in rows if row['calls']), default=0)
    best = max((load['calls'] / load['wall'] for load in throughput), default=0)
    ratios.append('simulator alone: up to %.0f GET/s; the fastest scenario needed %.0f calls/s (%.0f%% of it)'
                  % (best, fastest, 100 * fastest / best if best else 0))
    return results, ratios


def spnego_note(imports):
    """When pyspnego is among the module's imports: it is loaded on every run, whatever the auth."""
    spent = dict(imports['cm_request_status']['parts']).get('spnego')
    return ('; pyspnego is imported on every run although only negotiate, kerberos and ntlm use it: %.0f ms of start-up' % spent
            if spent else '')


def fleet_find(fleet_rows, variant, size):
    """The fleet row of one variant and number of hosts, or None when it did not run."""
    return next((row for row in fleet_rows if row['variant'] == variant and row['n'] == size), None)


def fleet_bound(fleet_rows, size):
    """What bounds the role's time at `size` hosts, from the figures: HTTP against the batch, per-host task cost against the floor."""
    role, ping, floor_row, batch = (fleet_find(fleet_rows, variant, size) for variant in ('role', 'ping', 'set_fact', 'batch'))
    if not (role and ping and floor_row and batch):
        return 'not every fleet variant ran at %d hosts' % size
    tasks, http = FLEET['role'][2], batch['wall'] / role['wall']
    role_ms, floor_ms, ping_ms = 1000 * role['wall'] / size, 1000 * floor_row['wall'] / size, 1000 * ping['wall'] / size
    return ('at %d hosts %s: the one batch task makes the same %d GETs and PUTs to the same simulator in %.2f s for its whole run, '
            'start-up and inventory included, %.0f%% of the role\'s %.2f s. %s: the role runs %d tasks per host and takes %.1f ms per host; '
            'the no-op set_fact, a task that does nothing, takes %.1f ms per host (%.2f s), the linear strategy\'s cost of a task on a '
            'host (a worker process forked for each task and host, its result sent back to the main process), so %d tasks at that floor '
            'are %.1f ms, %.0f%% of the role\'s time per host, and the other %.1f ms per host are what the role\'s tasks do beyond '
            'a no-op (the argument check, templating the role\'s variables, the delegation to localhost, cm_request_status with its '
            'GET and PUT on a new connection, its result). ping, a module process per host, takes %.1f ms per host'
            % (size, 'HTTP does not bound the role' if http < 0.5 else 'HTTP and Ansible\'s start-up are a large part of the role\'s time',
               size, batch['wall'], 100 * http, role['wall'],
               'What bounds it is Ansible\'s cost per task and host' if http < 0.5 else 'Ansible\'s cost per task and host',
               tasks, role_ms, floor_ms, floor_row['wall'], tasks, tasks * floor_ms, 100 * tasks * floor_ms / role_ms,
               role_ms - tasks * floor_ms, ping_ms))


def fleet_target(fleet_rows):
    """Issue 14's target: at TARGET_HOSTS hosts the role takes at most half the time of ping once per host (None: not run)."""
    role, ping = fleet_find(fleet_rows, 'role', TARGET_HOSTS), fleet_find(fleet_rows, 'ping', TARGET_HOSTS)
    if not (role and ping):
        return None
    ratio = role['wall'] / ping['wall']
    return ('%d hosts: the finalize_request role in at most half the time of a trivial module (ping) run once per host' % TARGET_HOSTS,
            ratio <= 0.5, 'role %.2f s / ping %.2f s = %.2f' % (role['wall'], ping['wall'], ratio), fleet_bound(fleet_rows, TARGET_HOSTS))


def fleet_section(fleet_rows, info):
    """The fleet scenario: what ran, its table, and sentences generated from its figures."""
    if not fleet_rows:
        return []
    sizes = sorted(set(row['n'] for row in fleet_rows))
    rounds = {}
    for size in sizes:
        rounds.setdefault(len(fleet_find(fleet_rows, 'ping', size)['walls']), []).append(str(size))
    rounds_text = '; '.join('%s hosts: %s' % (', '.join(group), 'one run of each variant' if count == 1 else
                                              '%d rounds (each variant once per round, in the order of the table), the median run shown'
                                              % count) for count, group in sorted(rounds.items(), reverse=True))
    lines = ['## Fleet', '',
             'The finalize_request role over a fleet. Each variant is one whole `ansible-playbook` run, timed from start to exit (start-up and',
             'reading the inventory included), over an inventory of N hosts, each with `ansible_connection: local` (no ssh) and one',
             'Approved request id of its own (`cm_request_id`, a host variable) that no other run touches; forks %d (Ansible\'s' % FORKS,
             'default, passed as `--forks %d`), the linear strategy, no fact gathering, ansible-core %s of .venv. The variants' % (FORKS, info['ansible_core']),
             '(playbooks in `tools/bench/`):', '',
             '- `set_fact no-op` (`fleet_set_fact.yml`): one `ansible.builtin.set_fact` per host that nothing reads: the floor of a task',
             '  per host, with no module process and no HTTP.',
             '- `ping` (`fleet_ping.yml`), the baseline: `ansible.builtin.ping`, a trivial module, run once per host, delegated to',
             '  localhost with `ansible_playbook_python` as the role delegates its task.',
             '- `role` (`fleet_role.yml`): `hosts: all` with `mim.certificate_management.finalize_request` as a `roles:` entry and',
             '  `finalize_request_id: "{{ cm_request_id }}"`. Per host three tasks: the argument check Ansible adds to a role with',
             '  `meta/argument_specs.yml`, `cm_request_status` delegated to localhost (run inside the worker by its action plugin), and',
             '  a `set_fact`.',
             '- `batch` (`fleet_batch.yml`): one `cm_request_status` task, `run_once`, delegated to localhost, with every host\'s id',
             '  (`request_ids: "{{ ansible_play_hosts | map(\'extract\', hostvars, \'cm_request_id\') | list }}"`), concurrency 8.',
             '- `uri GET+PUT` (`fleet_uri.yml`): two `ansible.builtin.uri` tasks per host, delegated to localhost: GET the host\'s',
             '  request, then PUT it Completed unless it is final.', '',
             'After each run the simulator\'s audit log shows each of the N requests of `role`, `batch` and `uri GET+PUT` moved',
             'Approved -> Completed exactly once, and no write at all for `set_fact no-op` and `ping` (`audit`). %s. `ms per host`' % rounds_text,
             'is the wall time over the hosts, `vs ping` the wall time over ping\'s at the same number of hosts, `client CPU s` the CPU of',
             'ansible-playbook and everything it started. The lower panels of the figure at the end plot this table.', '',
             '| hosts | variant | tasks per host | wall s | runs: min..max s | ms per host | vs ping | client CPU s | simulator busy | audit |',
             '| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |']
    for size in sizes:
        ping = fleet_find(fleet_rows, 'ping', size)
        for variant in FLEET:
            row = fleet_find(fleet_rows, variant, size)
            if row:
                lines.append('| %d | %s | %s | %.2f | %s | %.1f | %s | %.2f | %s | %s |' % (
                    size, FLEET[variant][1], '1, run once' if variant == 'batch' else FLEET[variant][2], row['wall'],
                    '%d: %.2f..%.2f' % (len(row['walls']), row['walls'][0], row['walls'][-1]) if len(row['walls']) > 1 else '',
                    1000 * row['wall'] / size, '%.2f' % (row['wall'] / ping['wall']) if ping else '', row['cpu'], busy(row).strip(), row['audit']))
    lines.append('')
    target = fleet_target(fleet_rows)
    if target:
        lines.append('At %d hosts the role took %.2f s and ping once per host %.2f s: role/ping = %.2f. The target of issue 14, the role in '
                     'at most half the time of a trivial module run once per host (role/ping <= 0.5), is %s.'
                     % (TARGET_HOSTS, fleet_find(fleet_rows, 'role', TARGET_HOSTS)['wall'], fleet_find(fleet_rows, 'ping', TARGET_HOSTS)['wall'],
                        fleet_find(fleet_rows, 'role', TARGET_HOSTS)['wall'] / fleet_find(fleet_rows, 'ping', TARGET_HOSTS)['wall'],
                        'met' if target[1] else 'NOT met'))
    else:
        lines.append('No fleet of %d hosts ran (`--fleet-sizes`): the target of issue 14 (at %d hosts the role in at most half the time '
                     'of a trivial module run once per host) is not judged.' % (TARGET_HOSTS, TARGET_HOSTS))
    largest = sizes[-1]
    ping = fleet_find(fleet_rows, 'ping', largest)
    if ping and largest != TARGET_HOSTS:
        lines += ['', 'At %d hosts, next to the same baselines: %s.' % (largest, ', '.join(
            '%s %.2f s (%.2fx ping)' % (FLEET[variant][1], row['wall'], row['wall'] / ping['wall'])
            for variant, row in ((variant, fleet_find(fleet_rows, variant, largest)) for variant in ('role', 'set_fact', 'batch', 'uri')) if row)
            + ', ping %.2f s' % ping['wall'])]
    bound = fleet_bound(fleet_rows, largest)
    lines += ['', 'What bounds the remaining time: %s.' % bound]
    return lines


def report(rows, fleet_rows, throughput, imports, info, runtime, stalls):
    """The Markdown report (docs/benchmark.md), also printed."""
    results, ratios = verdicts(rows, throughput, imports)
    target = fleet_target(fleet_rows)
    if target:
        results.append(target)
    lines = ['# Benchmark', '',
             'Written by `make bench` (`tools/bench/bench.py`); do not edit by hand. Reproduce with `make bench`, or with',
             '`make BUILD=/tmp/b install && .venv/bin/python tools/bench/bench.py --build /tmp/b`.', '',
             'Machine: %(cpus)s CPUs (%(cpu_model)s), %(platform)s, Python %(python)s, ansible-core %(ansible_core)s, '
             'requests %(requests)s. Date: %(date)s. Load average (1, 5, 15 min) at start: %(load)s, at the end: %(load_end)s. '
             'Total runtime: %(runtime)s.' % dict(info, runtime=runtime), '',
             'Every run starts from Approved requests that no other run touches, and the simulator\'s audit log proves afterwards that',
             'each of them moved Approved -> Completed exactly once. Each request costs one GET and one PUT. `peak MB` is the',
             'peak RSS of the module process (for d, of the Python process). `simulator busy` is the simulator\'s CPU time as a share',
             'of the wall time (100% is one core, all its GIL allows). `client CPU s` is the CPU of ansible-playbook (or the d',
             'process) and everything it started. d\'s wall time is its HTTP work only, without interpreter start-up. Scenarios run',
             'more than once show the median run; `runs` gives their number and range. `--loop-sizes 50,200` skips the loops at',
             'N=1000, about 17 of the run\'s minutes on two cores; `--fleet-sizes 100,200` skips the larger fleets of the',
             'section Fleet.', '']
    lines += table(rows, throughput)
    if stalls:
        lines += ['', 'In %d floor run(s) a new connection waited about a second for its first answer (%s): a SYN the kernel dropped '
                  'and retried after a second, which is what a full listen backlog does when %d connections open at once. '
                  'The medians in the table keep such runs out.' % (len(stalls), '; '.join(stalls), CONCURRENCY)]
    lines += [''] + fleet_section(fleet_rows, info) if fleet_rows else []
    lines += ['', '## Ratios', ''] + ['- ' + ratio for ratio in ratios]
    lines += ['', '## Targets', '']
    for name, passed, numbers, bound in results:
        lines.append('- **%s**: %s' % ('PASS' if passed else 'MISS', name))
        lines.append('  - %s' % numbers)
        if not passed:
            lines.append('  - what bounds it: %s' % bound)
    lines += ['', '## Module start-up (python -X importtime)', '']
    for name, profile in sorted(imports.items()):
        lines.append('- %s: %s ms in all; %s' % (name, '%.0f' % profile['total_ms'] if profile['total_ms'] else '?',
                                                 ', '.join('%s %.0f ms' % part for part in profile['parts'])))
    lines += ['', '![benchmark](benchmark.png)', '']
    return '\n'.join(lines), results


def plot(rows, fleet_rows, throughput, path):
    """Wall time and requests per second per scenario and N (log scales); below them the fleet's, when it ran."""
    import matplotlib  # pylint: disable=import-outside-toplevel
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
    if fleet_rows:
        figure, ((left, right), (fleet_left, fleet_right)) = plt.subplots(2, 2, figsize=(13, 11))
        plot_fleet(fleet_rows, fleet_left, fleet_right)
    else:
        figure, (left, right) = plt.subplots(1, 2, figsize=(13, 5.5))
    series = sorted(set((row['auth'], row['scenario']) for row in rows if row['n']), key=lambda key: (key[0] != 'none', key[1]))
    for auth, scenario in series:
        points = sorted((row['n'], row['wall']) for row in rows if (row['auth'], row['scenario']) == (auth, scenario))
        label = LABELS[scenario] + (' (NTLM)' if auth == 'ntlm' else '')
        style = '--' if auth == 'ntlm' else '-'
        left.plot([n for n, _wall in points], [wall for _n, wall in points], style, marker='o', label=label)
        right.plot([n for n, _wall in points], [n / wall for n, wall in points], style, marker='o', label=label)
    e = find(rows, 'e', 0)
    if e:
        left.axhline(e['wall'], color='grey', linestyle=':', label='e no-op playbook')
    if throughput:
        best = max(load['calls'] / load['wall'] for load in throughput)
        right.axhline(best / 2, color='black', linestyle=':', label='simulator alone (GET/s / 2)')
    for axes, title, unit in ((left, 'Wall time', 'seconds'), (right, 'Throughput', 'requests finalized per second')):
        axes.set_xscale('log')
        axes.set_yscale('log')
        axes.set_xlabel('requests (N)')
        axes.set_ylabel(unit)
        axes.set_title(title)
        axes.grid(True, which='both', alpha=0.3)
    left.legend(fontsize=8)
    right.legend(fontsize=8)
    figure.suptitle('cm_request_status against the MIM CM simulator on loopback' + ('; below, the fleet (forks %d)' % FORKS if fleet_rows else ''))
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def plot_fleet(fleet_rows, left, right):
    """The fleet: wall time, and wall time per host, against the number of hosts, one line per variant (log scales)."""
    for variant in FLEET:
        points = sorted((row['n'], row['wall']) for row in fleet_rows if row['variant'] == variant)
        style = ':' if variant == 'set_fact' else '-'
        left.plot([n for n, _wall in points], [wall for _n, wall in points], style, marker='o', label=FLEET[variant][1])
        right.plot([n for n, _wall in points], [1000 * wall / n for n, wall in points], style, marker='o', label=FLEET[variant][1])
    ping = sorted((row['n'], row['wall']) for row in fleet_rows if row['variant'] == 'ping')
    left.plot([n for n, _wall in ping], [wall / 2 for _n, wall in ping], '--', color='grey', label='half of ping (target at %d hosts)' % TARGET_HOSTS)
    for axes, title, unit in ((left, 'Fleet: wall time of the whole run', 'seconds'), (right, 'Fleet: wall time per host', 'milliseconds per host')):
        axes.set_xscale('log')
        axes.set_yscale('log')
        axes.set_xlabel('hosts (one request each), forks %d' % FORKS)
        axes.set_ylabel(unit)
        axes.set_title(title)
        axes.grid(True, which='both', alpha=0.3)
        axes.legend(fontsize=8)


# ---------------------------------------------------------------- main

def size_list(text):
    """A comma-separated list of positive numbers."""
    return [int(value) for value in text.split(',') if value.strip()]


def parse_args(argv):
    """Options; the defaults are what make bench runs."""
    parser = argparse.ArgumentParser(description='Benchmark cm_request_status against the MIM CM simulator.')
    parser.add_argument('--build', help='the Makefile BUILD directory; BUILD/collections holds the installed collection')
    parser.add_argument('--sizes', type=size_list, default=[50, 200, 1000], help='numbers of requests (default 50,200,1000)')
    parser.add_argument('--loop-sizes', type=size_list, help='sizes at which the loops a and b run (default: all of --sizes)')
    parser.add_argument('--fleet-sizes', type=size_list, default=[100, 200, 500, 1000],
                        help='numbers of hosts of the fleet scenario (default 100,200,500,1000; empty: skip it)')
    parser.add_argument('--fleet-repeat', type=int, default=3,
                        help='rounds of the fleet variants at up to %d hosts, the median counts; larger fleets run once (default 3)'
                        % FLEET_REPEAT_UP_TO)
    parser.add_argument('--memory-size', type=int, default=10000, help='the batch run whose peak memory is checked (0: skip)')
    parser.add_argument('--repeat', type=int, default=5, help='runs of c, d and e per size; the median counts (default 5)')
    parser.add_argument('--hammer-calls', type=int, default=4000, help='GET calls of the simulator throughput test')
    parser.add_argument('--out', default=os.path.join(ROOT, 'docs'), help='where benchmark.md and benchmark.png go')
    parser.add_argument('--keep', action='store_true', help='keep the work directory (logs, seeds) and say where it is')
    parser.add_argument('--floor', metavar='SPEC', help=argparse.SUPPRESS)
    parser.add_argument('--hammer', metavar='SPEC', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not (args.build or args.floor or args.hammer):
        parser.error('--build is required')
    if args.loop_sizes is None:
        args.loop_sizes = args.sizes
    return args


def benchmark(args, work):
    """Start the simulators, run every scenario, verify, report."""
    started = time.monotonic()
    info = dict(machine(), load='%.2f %.2f %.2f' % os.getloadavg())
    bench = Bench(args, work)
    plan = bench.plan()
    for auth, scenario, size, repetitions in plan:
        for repetition in range(repetitions):
            bench.ids(auth, scenario, size, repetition)
    for size in args.fleet_sizes:
        for repetition in range(bench.fleet_rounds(size)):
            for variant in FLEET:
                bench.fleet_ids(variant, size, repetition)
    plain_ids = [i for key, ids in bench.pool.items() if key[0] == 'none' for i in ids]
    ntlm_ids = [i for key, ids in bench.pool.items() if key[0] == 'ntlm' for i in ids]
    probe = str(uuid.uuid4())
    write_json(os.path.join(work, 'users.json'), {'users': {'bench': {'password': bench.password, 'rights': ['read', 'write']}}})
    sims = {}
    try:
        sims['none'] = Simulator(work, 'plain', plain_ids + [probe])
        sims['ntlm'] = Simulator(work, 'ntlm', ntlm_ids + [probe], ['--auth', 'ntlm', '--users', os.path.join(work, 'users.json'),
                                                                    '--ntlm-domain', DOMAIN])
        print('== simulators: %s (anonymous), %s (NTLM); %d + %d Approved requests seeded'
              % (sims['none'].url, sims['ntlm'].url, len(plain_ids), len(ntlm_ids)), flush=True)
        throughput = []
        for threads in (1, CONCURRENCY):
            before = sims['none'].cpu_seconds()
            load = bench.child('hammer', {'port': sims['none'].port, 'ids': [probe], 'calls': args.hammer_calls, 'concurrency': threads})
            load.update(concurrency=threads, sim_cpu=sims['none'].cpu_seconds() - before if before is not None else None)
            throughput.append(load)
            print('  simulator alone, %d thread(s): %.0f GET/s, simulator busy %s' % (threads, load['calls'] / load['wall'], busy(load)), flush=True)
        print('== scenarios', flush=True)
        for auth, scenario, size, repetitions in plan:
            bench.measure(sims, auth, scenario, size, repetitions)
        if args.fleet_sizes:
            print('== fleet: ansible-playbook over N local-connection hosts, forks %d' % FORKS, flush=True)
        for size in args.fleet_sizes:
            bench.measure_fleet(sims['none'], size)
        for auth, sim in sims.items():
            done = set(i for key, ids in bench.pool.items() if key[0] == auth and key[1] != 'e' for i in ids)
            missing = done - sim.completed_ids(dict(bench.auth_spec(auth), ids=[probe]))
            if missing:
                raise BenchError('%d requests of the %s simulator are not Completed at the end' % (len(missing), auth))
        print('== every run\'s requests are Completed (audit log after each run, and a search at the end)', flush=True)
    finally:
        for sim in sims.values():
            sim.stop()
    imports = {'uri': import_profile(args.build, 'ansible.modules.uri'),
               'cm_request_status': import_profile(args.build, 'ansible_collections.mim.certificate_management.plugins.modules.cm_request_status')}
    runtime = time.monotonic() - started
    info['load_end'] = '%.2f %.2f %.2f' % os.getloadavg()
    text, results = report(bench.rows, bench.fleet_rows, throughput, imports, info, '%d min %02d s' % divmod(int(runtime), 60), bench.stalls)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, 'benchmark.md'), 'w', encoding='utf-8') as handle:
        handle.write(text)
    plot(bench.rows, bench.fleet_rows, throughput, os.path.join(args.out, 'benchmark.png'))
    print(text)
    print('== wrote %s and %s; %d of %d targets met'
          % (os.path.join(args.out, 'benchmark.md'), os.path.join(args.out, 'benchmark.png'), sum(1 for result in results if result[1]), len(results)))


def main(argv=None):
    """The benchmark, or one of its child processes."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.floor or args.hammer:
        with open(args.floor or args.hammer, encoding='utf-8') as handle:
            spec = json.load(handle)
        print(json.dumps(floor(spec) if args.floor else hammer(spec)))
        return 0
    work = tempfile.mkdtemp(prefix='mim-cm-bench-')
    try:
        benchmark(args, work)
    except BenchError as exc:
        print('*** BENCHMARK BROKEN: %s' % exc, file=sys.stderr)
        args.keep = True
        return 1
    finally:
        if args.keep:
            print('== work directory kept: %s' % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
