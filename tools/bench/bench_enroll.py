# -*- coding: utf-8 -*-
# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""make bench-enroll: how long the enroll_certificate role takes per host, against a MIM CM simulator on 127.0.0.1.

Usage: python tools/bench/bench_enroll.py --build BUILD   (BUILD/collections holds the installed collection)

Whole ansible-playbook runs over inventories of N local-connection hosts (a directory each), forks 5, every host's API
calls made by one NTLM service account, as a controller's are. In each round (the median run counts):
  enroll          the role over hosts that hold nothing (enroll_role.yml): a request each, key and CSR on the host,
                  certificatedata, the files written, the request completed; the API calls inside the controller
  enroll_shipped  the same with the role's API calls run as modules (a wrapper interpreter: no action plugin shortcut)
  rerun           the role again over the hosts of enroll: nothing to do, no request
  ping            ansible.builtin.ping per host delegated to localhost (bench.py's fleet_ping.yml): a module run per host
The simulator's audit log must show, after each enroll run, N requests created, N submissions and N completions, all
of distinct requests, and nothing at all after rerun and ping; each host's certificate must hold its key's public key.
Writes docs/benchmark_enroll.md. Exits 0 when every run worked, 1 when one failed.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import sys
import tempfile
import time

from cryptography import x509
from cryptography.hazmat.primitives import serialization

import bench

HERE = os.path.dirname(os.path.abspath(__file__))
USER = 'svc-bench'
USER_UUID = '5e75e75e-0000-4000-8000-0000000be4c1'
TEMPLATE = {'Name': 'Web Server', 'Uuid': '88888888-0000-4000-8000-0000000be4c1', 'Description': 'auto-approved',
            'policies': {'Enroll': {'ApprovalsNeeded': 0, 'PolicyDataCollection': [{'Name': 'Host Name', 'Required': True}]}},
            'generation_options': [{'KeyAlgorithmName': 'RSA', 'KeySize': 2048, 'HashAlgorithmName': 'SHA256',
                                    'KeyStorageProviderNames': ['Microsoft Software Key Storage Provider']}]}
# variant -> (playbook, what the audit log must show: 'enrolled' or 'nothing', label)
VARIANTS = {'enroll': ('enroll_role.yml', 'enrolled', 'enroll'),
            'enroll_shipped': ('enroll_role.yml', 'enrolled', 'enroll, API modules shipped'),
            'rerun': ('enroll_role.yml', 'nothing', 're-run, nothing to do'),
            'ping': ('fleet_ping.yml', 'nothing', 'ping')}


class EnrollBench:
    """The simulator, the runs and their figures."""

    def __init__(self, args, work):
        self.args, self.work = args, work
        self.ansible_env = bench.Bench(args, work).ansible_env
        self.password = 'P-' + secrets.token_urlsafe(16)
        self.runs = 0
        self.rows = []
        bench.write_json(os.path.join(work, 'seed.json'), {'profile_templates': [TEMPLATE], 'requests': []})
        bench.write_json(os.path.join(work, 'users.json'), {'users': {USER: {'password': self.password, 'uuid': USER_UUID}}})
        self.shipped = os.path.join(work, 'shipped-python')  # another file than sys.executable: the modules are shipped
        with open(self.shipped, 'w', encoding='utf-8') as handle:
            handle.write('#!/bin/sh\nexec %s "$@"\n' % sys.executable)
        os.chmod(self.shipped, 0o700)
        try:
            options = ['--seed', os.path.join(work, 'seed.json'), '--auth', 'ntlm', '--users', os.path.join(work, 'users.json'),
                       '--ntlm-domain', bench.DOMAIN]
            self.sim = bench.launch.start(os.path.join(work, 'simulator'), options, access_log=False, timeout=60)
        except bench.launch.SimulatorError as exc:
            raise bench.BenchError('the simulator did not start: %s' % exc) from exc
        self.offset = 0

    def playbook(self, variant, hosts, directory):
        """One ansible-playbook run of a variant over `hosts` local-connection hosts; returns (wall, client CPU, log)."""
        self.runs += 1
        name = 'run%03d-%s-%d' % (self.runs, variant, len(hosts))
        inventory = os.path.join(self.work, name + '.inventory.json')
        host_vars = {'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable}
        bench.write_json(inventory, {'all': {'vars': host_vars, 'hosts': {host: {} for host in hosts}}})
        extra = {'bench_url': self.sim.url, 'bench_username': '%s\\%s' % (bench.DOMAIN, USER), 'bench_password': self.password,
                 'bench_hosts': directory}
        if variant == 'enroll_shipped':
            extra['bench_interpreter'] = self.shipped
        bench.write_json(os.path.join(self.work, name + '.vars.json'), extra)
        log = os.path.join(self.work, name + '.log')
        command = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), os.path.join(HERE, VARIANTS[variant][0]),
                   '-i', inventory, '--forks', str(bench.FORKS), '-e', '@' + os.path.join(self.work, name + '.vars.json')]
        wall, cpu = bench.run_child(command, log, 120 + 3 * len(hosts), self.ansible_env, self.work)
        return wall, cpu, log

    def audit(self, variant, hosts, directory):
        """The audit lines since the last check: each host enrolled once (distinct requests), or none at all."""
        with open(self.sim.audit_log, encoding='utf-8') as log:
            log.seek(self.offset)
            lines = [json.loads(line) for line in log.read().splitlines()]
            self.offset = log.tell()
        what = '%s over %d hosts' % (variant, len(hosts))
        if VARIANTS[variant][1] == 'nothing':
            if lines:
                raise bench.BenchError('%s: the simulator logged %d calls that changed or refused something; expected none' % (what, len(lines)))
            return 'no writes'
        applied = [line for line in lines if line.get('event') == 'applied']
        created = {line['request_id'] for line in applied if line.get('method') == 'POST' and line.get('route') == 'requests'}
        submitted = [line['request_id'] for line in applied if line.get('method') == 'POST' and line.get('route') == 'certificatedata']
        completed = [line['request_id'] for line in applied if line.get('method') == 'PUT' and line.get('to') == 'Completed']
        if not (len(created) == len(submitted) == len(completed) == len(hosts) and len(lines) == 3 * len(hosts)
                and created == set(submitted) == set(completed)):
            raise bench.BenchError('%s: %d requests created, %d submissions, %d completions in %d audit lines; expected %d of each, one per '
                                   'request' % (what, len(created), len(submitted), len(completed), len(lines), len(hosts)))
        for host in hosts:
            folder = os.path.join(directory, host)
            with open(os.path.join(folder, host + '.crt'), 'rb') as handle:
                certificate = x509.load_pem_x509_certificate(handle.read())
            with open(os.path.join(folder, host + '.key'), 'rb') as handle:
                key = serialization.load_pem_private_key(handle.read(), None)
            spki = serialization.PublicFormat.SubjectPublicKeyInfo
            if certificate.public_key().public_bytes(serialization.Encoding.DER, spki) != key.public_key().public_bytes(serialization.Encoding.DER, spki):
                raise bench.BenchError('%s: the certificate of %s does not hold its key' % (what, host))
            if os.path.getsize(os.path.join(folder, host + '.chain.crt')) == 0:
                raise bench.BenchError('%s: the chain of %s is empty' % (what, host))
        return '%d enrolled once' % len(hosts)

    def measure(self, size):
        """Every variant over `size` hosts, in rounds; the median run of each counts."""
        runs = {variant: [] for variant in VARIANTS}
        for repetition in range(self.args.repeat):
            for variant in VARIANTS:
                enrolled = 'enroll' if variant == 'rerun' else variant
                hosts = ['%s-%d-%03d' % (enrolled.replace('_', '-'), repetition, index) for index in range(size)]
                directory = os.path.join(self.work, 'hosts-%s-%d-%d' % (enrolled, size, repetition))
                before = self.sim_cpu()
                wall, cpu, log = self.playbook(variant, hosts, directory)
                after = self.sim_cpu()
                audit = self.audit(variant, hosts, directory)
                with open(log, encoding='utf-8', errors='replace') as output:
                    tasks = sum(1 for line in output if line.startswith('TASK ['))
                runs[variant].append({'wall': wall, 'cpu': cpu, 'tasks': tasks, 'audit': audit,
                                      'sim_cpu': after - before if before is not None and after is not None else None})
        for variant, measured in runs.items():
            measured.sort(key=lambda run: run['wall'])
            row = dict(measured[len(measured) // 2], variant=variant, n=size, walls=[run['wall'] for run in measured])
            self.rows.append(row)
            print('  %-15s hosts=%-4d %8.2f s  %7.1f ms/host  client CPU %7.2f s  sim busy %s  tasks %d  audit: %s' % (
                variant, size, row['wall'], 1000 * row['wall'] / size, row['cpu'], bench.busy(row), row['tasks'], row['audit']), flush=True)

    def sim_cpu(self):
        return bench.cpu_seconds(self.sim.process.pid)


def report(rows, info, runtime):
    """The Markdown page (docs/benchmark_enroll.md), also printed."""
    lines = ['# Benchmark: enrollment', '',
             'Written by `make bench-enroll` (`tools/bench/bench_enroll.py`, also run by `make bench`); do not edit by hand.', '',
             'Machine: %(cpus)s CPUs (%(cpu_model)s), %(platform)s, Python %(python)s, ansible-core %(ansible_core)s. Date: %(date)s. '
             'Load average (1, 5, 15 min) at start: %(load)s, at the end: %(load_end)s. Total runtime: %(runtime)s.' % dict(info, runtime=runtime), '',
             'Whole `ansible-playbook` runs of the `enroll_certificate` role over N local-connection hosts (a directory each), forks %d, '
             'against the simulator with NTLM, one service account for every host. Per host the role creates a request, makes an RSA '
             '2048 key and a CSR on the host (community.crypto), submits the CSR (`certificatedata`: the simulator\'s CA signs it), '
             'writes the certificate, the chain and the full chain and a record, and completes the request. `enroll, API modules '
             'shipped` is the same with the API calls run as module processes (a wrapper interpreter), as they would be without the '
             'action plugins. `re-run` is the role again over the enrolled hosts: nothing to do. `ping` is a trivial module run once '
             'per host. Each run counts the median of its rounds (`runs`). After every enroll run the simulator\'s audit log showed N '
             'requests created, N submissions and N completions, one of each per request, and each host\'s certificate held its '
             'key; after re-run and ping it showed nothing.' % bench.FORKS, '',
             '| hosts | variant | wall | per host | tasks | client CPU s | simulator busy | runs | audit |',
             '| ---: | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |']
    for row in rows:
        lines.append('| %d | %s | %.2f s | %.0f ms | %d | %.1f | %s | %s | %s |' % (
            row['n'], VARIANTS[row['variant']][2], row['wall'], 1000 * row['wall'] / row['n'], row['tasks'], row['cpu'],
            bench.busy(row).strip(), ', '.join('%.1f' % wall for wall in row['walls']), row['audit']))
    for size in sorted({row['n'] for row in rows}):
        found = {row['variant']: row for row in rows if row['n'] == size}
        enroll, shipped, ping = found['enroll'], found['enroll_shipped'], found['ping']
        per_host = 1000 * enroll['wall'] / size
        rerun = found['rerun']
        lines += ['', '**%d hosts**: enrollment takes %.0f ms per host, %.1f times a trivial module run per host (%.0f ms). The '
                  'role runs %d tasks over the hosts (skipped ones included); the re-run goes through the same tasks with nothing to '
                  'do in %.0f ms per host, so %.0f ms per host are the enrollment\'s own work (the key, the CSR, the API calls, the '
                  'files). With the API calls shipped as modules it takes %.0f ms per host (%+.0f%%).' % (
                      size, per_host, enroll['wall'] / ping['wall'], 1000 * ping['wall'] / size, enroll['tasks'],
                      1000 * rerun['wall'] / size, per_host - 1000 * rerun['wall'] / size,
                      1000 * shipped['wall'] / size, 100 * (shipped['wall'] - enroll['wall']) / enroll['wall'])]
    return '\n'.join(lines) + '\n'


def parse_args(argv):
    parser = argparse.ArgumentParser(description='Benchmark the enroll_certificate role against the MIM CM simulator.')
    parser.add_argument('--build', required=True, help='the Makefile BUILD directory; BUILD/collections holds the installed collection')
    parser.add_argument('--sizes', type=bench.size_list, default=[50], help='numbers of hosts (default 50)')
    parser.add_argument('--repeat', type=int, default=3, help='rounds per size; the median run counts (default 3)')
    parser.add_argument('--out', default=os.path.join(bench.ROOT, 'docs'), help='where benchmark_enroll.md goes')
    parser.add_argument('--keep', action='store_true', help='keep the work directory (logs, hosts) and say where it is')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    work = tempfile.mkdtemp(prefix='mim-cm-bench-enroll-')
    started = time.monotonic()
    info = dict(bench.machine(), load='%.2f %.2f %.2f' % os.getloadavg())
    runner = None
    try:
        runner = EnrollBench(args, work)
        print('== enroll_certificate over %s hosts, forks %d, simulator %s' % (', '.join(map(str, args.sizes)), bench.FORKS, runner.sim.url), flush=True)
        for size in args.sizes:
            runner.measure(size)
    except bench.BenchError as exc:
        print('*** BENCHMARK BROKEN: %s' % exc, file=sys.stderr)
        args.keep = True
        return 1
    finally:
        if runner is not None:
            runner.sim.stop()
        if args.keep:
            print('== work directory kept: %s' % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    info['load_end'] = '%.2f %.2f %.2f' % os.getloadavg()
    text = report(runner.rows, info, '%d min %02d s' % divmod(int(time.monotonic() - started), 60))
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, 'benchmark_enroll.md'), 'w', encoding='utf-8') as handle:
        handle.write(text)
    print(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
