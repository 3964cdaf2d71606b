"""Run the finalize playbook the way AWX runs a job template, through ansible-runner, and check what it leaves behind.

Usage: python awx_job.py CONFIG COLLECTION WORKDIR    (runme.sh calls it; CONFIG is the integration_config.yml of
tools/testenv/integration_env.py, COLLECTION the collection tree that ansible-test runs in, WORKDIR an empty directory that
the caller removes)

As AWX does it:
- the collection is built from this tree with ansible-galaxy and installed from its tarball, and the job finds it
  through ANSIBLE_COLLECTIONS_PATH only;
- the credential's environment comes from the injectors of awx/credential_type.yml, rendered with AWX's rules (an
  input left empty renders as an empty string, a boolean left out as false, a file injector writes a 0600 file into
  the private data directory's env/ and {{ tower.filename.<label> }} names it);
- the extra variables come from survey answers checked against awx/finalize_survey.yml (defaults, choices, lengths)
  and go to env/extravars; verbosity and check mode go to env/cmdline;
- the project holds awx/project/finalize.yml, the inventory only localhost.
Each job must end "successful", the simulators' audit logs must show exactly the expected writes as alice, and no
password or token may appear in what ansible-runner prints, in artifacts/<ident>/stdout or in any job event. The files
that do hold a secret are listed, and must be exactly the ones the README names (env/envvars when the secrets are put
there, and artifacts/<ident>/command, where ansible-runner records the job's whole environment).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from types import SimpleNamespace

import yaml
from jinja2 import StrictUndefined, meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

REQUEST = '55555555-0000-4000-8000-000000000%s'
# The environment variables that AWX refuses to let a credential type set (awx_plugins ENV_BLOCKLIST, abridged).
AWX_ENV_BLOCKLIST = ('VIRTUAL_ENV', 'PATH', 'PYTHONPATH', 'JOB_ID', 'INVENTORY_ID', 'REST_API_URL', 'REST_API_TOKEN', 'AWX_HOST')


PASSED = []


class Failure(Exception):
    """A check failed."""


def passed(message):
    """Report a group of checks that passed."""
    PASSED.append(message)
    print('ok - ' + message)


def check(condition, message):
    """Fail with message unless condition holds."""
    if not condition:
        raise Failure(message)


def read(path):
    """A file's text."""
    with open(path, encoding='utf-8', errors='replace') as handle:
        return handle.read()


def write(path, text, mode=0o600):
    """Write a file (its directory created), readable by its owner only, as AWX and ansible-runner do."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as handle:
        handle.write(text)
    os.chmod(path, mode)


def validate_credential_type(credential_type):
    """What AWX checks when the credential type is created, and what this collection expects of it."""
    fields = credential_type['inputs']['fields']
    ids = [field['id'] for field in fields]
    check(len(ids) == len(set(ids)), 'duplicate input ids: %s' % ids)
    check(set(credential_type['inputs'].get('required', [])) <= set(ids), 'a required input is not a field')
    check(credential_type['kind'] in ('cloud', 'net'), 'kind must be cloud or net for a custom credential type')
    secret = sorted(field['id'] for field in fields if field.get('secret'))
    check(secret == ['password', 'token'], 'the secret inputs are %s, not password and token' % secret)
    injectors = credential_type['injectors']
    env = injectors['env']
    check(all(name.startswith('MIM_CM_') and name not in AWX_ENV_BLOCKLIST for name in env), 'an injector sets %s' % sorted(env))
    # AWX renders every template with each input set, refusing unknown names (StrictUndefined).
    sandbox = ImmutableSandboxedEnvironment(undefined=StrictUndefined)
    labels = dict((label.split('.', 1)[1], 'EXAMPLE') for label in injectors.get('file', {}) if '.' in label)
    namespace = dict((field_id, 'EXAMPLE') for field_id in ids)
    namespace['tower'] = SimpleNamespace(filename=SimpleNamespace(**labels))
    for template in list(env.values()) + list(injectors.get('file', {}).values()):
        sandbox.from_string(template).render(**namespace)
    return secret


def render_injectors(credential_type, inputs, private_data_dir):
    """The environment that AWX injects for a credential with these inputs (awx_plugins inject_credential)."""
    fields = credential_type['inputs']['fields']
    namespace = dict((key, value) for key, value in inputs.items() if isinstance(value, bool) or value)
    for field in fields:
        if field['type'] == 'boolean' and field['id'] not in inputs:
            namespace[field['id']] = False  # AWX: a boolean left out is false
    sandbox = ImmutableSandboxedEnvironment()
    files = {}
    env_dir = os.path.join(private_data_dir, 'env')
    os.makedirs(env_dir, exist_ok=True)
    for label, template in credential_type['injectors'].get('file', {}).items():
        handle, path = tempfile.mkstemp(dir=env_dir)
        with os.fdopen(handle, 'w', encoding='utf-8') as output:
            output.write(sandbox.from_string(template).render(**namespace))
        os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
        files[label.split('.', 1)[1] if '.' in label else ''] = path
    namespace['tower'] = SimpleNamespace(filename=files.pop('') if '' in files else SimpleNamespace(**files))
    return dict((name, sandbox.from_string(template).render(**namespace)) for name, template in credential_type['injectors']['env'].items())


def secret_variables(credential_type, secret_fields):
    """The injected environment variables whose template uses a secret input."""
    sandbox = ImmutableSandboxedEnvironment()
    return sorted(name for name, template in credential_type['injectors']['env'].items()
                  if meta.find_undeclared_variables(sandbox.parse(template)) & set(secret_fields))


def validate_survey(survey):
    """What AWX checks when a survey is saved (JobTemplateSurveySpec._validate_spec_data), and the questions finalize needs."""
    check(isinstance(survey.get('name'), str) and isinstance(survey.get('description'), str), 'a survey needs a name and a description')
    check(isinstance(survey.get('spec'), list) and survey['spec'], 'a survey needs questions')
    for question in survey['spec']:
        for key, kind in (('type', str), ('question_name', str), ('variable', str), ('required', bool)):
            check(isinstance(question.get(key), kind), '%s of survey question %s must be a %s' % (key, question, kind.__name__))
        check(question['type'] in ('text', 'textarea', 'password', 'integer', 'float', 'multiplechoice', 'multiselect'),
              'unknown question type %s' % question['type'])
        if question['type'] in ('multiplechoice', 'multiselect'):
            check(question.get('choices'), 'question %s has no choices' % question['variable'])
            check(question.get('default', '') in ('',) + tuple(question['choices']), 'the default of %s is not a choice' % question['variable'])
    variables = dict((question['variable'], question['type']) for question in survey['spec'])
    check(len(variables) == len(survey['spec']), 'a survey variable is asked twice')
    check(variables == {'cm_request_ids': 'textarea', 'cm_request_status': 'multiplechoice'}, 'the survey asks %s' % variables)


def survey_extra_vars(survey, answers):
    """The extra variables of a launch with these survey answers, validated as AWX validates them."""
    extra_vars = {}
    questions = dict((question['variable'], question) for question in survey['spec'])
    check(set(answers) <= set(questions), 'answers to questions the survey does not ask: %s' % sorted(set(answers) - set(questions)))
    for variable, question in questions.items():
        value = answers.get(variable, question.get('default', ''))
        if question['type'] in ('text', 'textarea', 'password'):
            check(question.get('min', 0) <= len(value) <= question.get('max', 1024), '%s: %d characters' % (variable, len(value)))
        elif question['type'] == 'multiplechoice':
            choices = question['choices'] if isinstance(question['choices'], list) else question['choices'].splitlines()
            check(value in choices, '%s: %r is not one of %s' % (variable, value, choices))
        check(value != '' or not question['required'], '%s is required' % variable)
        extra_vars[variable] = value
    return extra_vars


def audit(path):
    """The simulator's audit log: the writes it applied, as (request id, to status, user)."""
    lines = [json.loads(line) for line in read(path).splitlines() if line.strip()]
    return [(line['request_id'], line['to'], line['user']) for line in lines if line['event'] == 'applied']


def seeded(config):
    """Whether the Windows-authentication simulators have this target's requests (tools/testenv/integration_env.py seeds them)."""
    auth = config['mim_cm_auth']
    credentials = base64.b64encode(('alice:%s' % auth['passwords']['alice']).encode()).decode()
    request = urllib.request.Request('%s/CertificateManagement/api/v1.0/requests/%s' % (auth['windows_url'], REQUEST % '101'),
                                     headers={'Authorization': 'Basic ' + credentials})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status == 200
    except urllib.error.HTTPError:
        return False


def build_and_install(root, work, env):
    """Build the collection from its tree and install it from the tarball; return the collections path."""
    check(os.path.isfile(os.path.join(root, 'galaxy.yml')), 'no galaxy.yml in %s' % root)
    dist, collections = os.path.join(work, 'dist'), os.path.join(work, 'collections')
    galaxy = shutil.which('ansible-galaxy', path=env['PATH'])
    subprocess.run([galaxy, 'collection', 'build', root, '--output-path', dist], check=True, env=env, stdout=subprocess.DEVNULL)
    (tarball,) = [os.path.join(dist, name) for name in os.listdir(dist)]
    with tarfile.open(tarball) as archive:
        leaked = [name for name in archive.getnames() if name.startswith(('tests/output', 'tests/integration/integration_config'))]
    check(not leaked, 'the tarball built from the tree that ansible-test runs in carries %s, with the secrets of the test run: '
          'galaxy.yml must list tests/integration/integration_config.yml under build_ignore' % leaked)
    # --no-deps: Galaxy may be out of reach, and the finalize job needs nothing of community.crypto (the dependency)
    subprocess.run([galaxy, 'collection', 'install', '--no-deps', tarball, '-p', collections], check=True,
                   env=dict(env, ANSIBLE_COLLECTIONS_PATH=collections), stdout=subprocess.DEVNULL)
    installed = os.path.join(collections, 'ansible_collections', 'mim', 'certificate_management')
    check(os.path.isfile(os.path.join(installed, 'MANIFEST.json')), 'the collection was not installed from a tarball')
    print('built %s (%d bytes) and installed it into %s' % (os.path.basename(tarball), os.path.getsize(tarball), collections))
    return collections


def jobs(config):
    """The jobs: a credential's inputs, survey answers, launch options, the simulator and the expected writes."""
    auth = config['mim_cm_auth']
    windows = auth['audit_logs']['windows']
    ntlm_ids = [REQUEST % n for n in ('101', '102', '103')]
    # The check-mode job and the real one use the same credential and survey answers (nothing mutates them).
    ntlm_inputs = dict(url=auth['windows_url'], auth='ntlm', username='%s\\alice' % auth['domain'], password=auth['passwords']['alice'])
    ntlm_answers = dict(cm_request_ids='%s\n{%s}\n%s' % (ntlm_ids[0], ntlm_ids[1].upper(), ntlm_ids[2]))
    return [
        dict(ident='ntlm-check', title='NTLM, job type check (prompted at launch), verbosity 3', inputs=ntlm_inputs, answers=ntlm_answers,
             cmdline='--check --diff -vvv', audit_log=windows, writes=[], stdout='%s: Approved -> Completed (would change)' % ntlm_ids[0]),
        dict(ident='ntlm', title='NTLM, verbosity 3', inputs=ntlm_inputs, answers=ntlm_answers,
             cmdline='-vvv', audit_log=windows, writes=[(rid, 'Completed') for rid in ntlm_ids],
             stdout='%s: Approved -> Completed (changed)' % ntlm_ids[2]),
        dict(ident='basic-https', title='Basic over HTTPS, the CA bundle from the credential (file injector)',
             inputs=dict(url=auth['tls_url'], auth='basic', username='alice', password=auth['passwords']['alice'], ca=read(auth['ca'])),
             answers=dict(cm_request_ids='%s, %s' % (REQUEST % '201', REQUEST % '202'), cm_request_status='completed'),
             cmdline='', audit_log=auth['audit_logs']['tls'], writes=[(REQUEST % '201', 'Completed'), (REQUEST % '202', 'Completed')],
             stdout='%s: Approved -> Completed (changed)' % (REQUEST % '202')),
        dict(ident='bearer', title='bearer token, status canceled; secrets in the runner\'s process environment, not in env/envvars',
             inputs=dict(url=auth['windows_url'], auth='bearer', token=auth['static_token']),
             answers=dict(cm_request_ids='%s %s' % (REQUEST % '301', REQUEST % '302'), cm_request_status='canceled'),
             cmdline='', audit_log=windows, writes=[(REQUEST % '301', 'Canceled'), (REQUEST % '302', 'Canceled')], secrets_in_process_env=True,
             stdout='%s: Approved -> Canceled (changed)' % (REQUEST % '301')),
    ]


def base_environment(collections):
    """The environment of ansible-runner: this one without the caller's Ansible, MIM CM and Kerberos settings.

    ansible-test's own ANSIBLE_TEST_* variables stay: its ansible-playbook wrapper on PATH needs them.
    """
    env = dict((key, value) for key, value in os.environ.items()
               if not key.startswith(('MIM_CM_', 'KRB5', 'ANSIBLE_')) or key.startswith('ANSIBLE_TEST_'))
    env['ANSIBLE_COLLECTIONS_PATH'] = collections
    return env


def run_job(job, work, collections, definitions):
    """Prepare the private data directory, run ansible-runner, check the outcome; return the private data directory."""
    private = os.path.join(work, job['ident'])
    injected = render_injectors(definitions.credential_type, job['inputs'], private)
    process_env = base_environment(collections)
    envvars = dict(injected, ANSIBLE_COLLECTIONS_PATH=collections)
    if job.get('secrets_in_process_env'):
        for name in definitions.secret_names:
            process_env[name] = envvars.pop(name)
    write(os.path.join(private, 'env', 'envvars'), yaml.safe_dump(envvars, default_flow_style=False))
    write(os.path.join(private, 'env', 'extravars'), yaml.safe_dump(survey_extra_vars(definitions.survey, job['answers']), default_flow_style=False))
    if job['cmdline']:
        write(os.path.join(private, 'env', 'cmdline'), job['cmdline'])
    write(os.path.join(private, 'project', 'finalize.yml'), definitions.playbook, 0o644)
    write(os.path.join(private, 'inventory', 'hosts'),
          'localhost ansible_connection=local ansible_python_interpreter=%s\n' % sys.executable, 0o644)
    before = audit(job['audit_log'])
    started = time.monotonic()
    result = subprocess.run([sys.executable, '-m', 'ansible_runner', 'run', private, '--playbook', 'finalize.yml', '--ident', job['ident']],
                            env=process_env, capture_output=True, text=True, check=False)
    write(os.path.join(work, job['ident'] + '.runner-output.txt'), result.stdout + result.stderr)
    artifacts = os.path.join(private, 'artifacts', job['ident'])
    status = read(os.path.join(artifacts, 'status')).strip() if os.path.exists(os.path.join(artifacts, 'status')) else None
    if result.returncode or status != 'successful':
        print(result.stdout[-4000:] + result.stderr[-2000:])
    check(result.returncode == 0 and status == 'successful', '%s: ansible-runner exited with %s, status %s' % (job['ident'], result.returncode, status))
    check(read(os.path.join(artifacts, 'rc')).strip() == '0', '%s: rc is not 0' % job['ident'])
    check(job['stdout'] in read(os.path.join(artifacts, 'stdout')), '%s: the job output does not say %r' % (job['ident'], job['stdout']))
    writes = audit(job['audit_log'])[len(before):]
    wanted = [(rid, to, 'alice') for rid, to in job['writes']]
    check(sorted(writes) == sorted(wanted), '%s: the simulator applied %s, expected %s' % (job['ident'], writes, wanted))
    events = len(os.listdir(os.path.join(artifacts, 'job_events')))
    passed('%s: %s: successful in %.1f s, %d job events, %d write(s) applied as alice'
           % (job['ident'], job['title'], time.monotonic() - started, events, len(writes)))
    return private


def leaks(work, secrets):
    """Scan every file under work: (the paths scanned, {relative path: [secret names]} for those that hold a secret)."""
    scanned, found = [], {}
    for root, _dirs, names in os.walk(work):
        for name in names:
            path = os.path.join(root, name)
            scanned.append(path)
            text = read(path)
            hits = sorted(secret for secret, value in secrets.items() if value in text)
            if hits:
                found[os.path.relpath(path, work)] = hits
    return scanned, found


def main(argv):
    """Build, install, run the jobs, scan for secrets; exit 1 on the first failed check."""
    with open(argv[0], encoding='utf-8') as handle:
        config = json.load(handle)
    root, work = os.path.abspath(argv[1]), os.path.abspath(argv[2])
    auth = config['mim_cm_auth']
    credential_type = yaml.safe_load(read(os.path.join(root, 'awx', 'credential_type.yml')))
    check(seeded(config), 'the Windows simulators do not know request %s: tools/testenv/integration_env.py must seed them with '
          "this target's files/windows_seed.json as well as cm_auth's" % (REQUEST % '101'))
    secret_fields = validate_credential_type(credential_type)
    secret_names = secret_variables(credential_type, secret_fields)
    check(secret_names == ['MIM_CM_PASSWORD', 'MIM_CM_TOKEN'], 'the secret environment variables are %s' % secret_names)
    passed('awx/credential_type.yml: AWX accepts its injectors; %s carry the secret inputs' % ', '.join(secret_names))
    definitions = SimpleNamespace(credential_type=credential_type, secret_names=secret_names,
                                  survey=yaml.safe_load(read(os.path.join(root, 'awx', 'finalize_survey.yml'))),
                                  playbook=read(os.path.join(root, 'awx', 'project', 'finalize.yml')))
    validate_survey(definitions.survey)
    passed('awx/finalize_survey.yml: AWX accepts the survey; it asks cm_request_ids (textarea) and cm_request_status (multiplechoice)')
    collections = build_and_install(root, work, base_environment(''))
    launched = jobs(config)
    done = [run_job(job, work, collections, definitions) for job in launched]
    files = sorted(os.path.relpath(os.path.join(root, name), done[0]) for root, _dirs, names in os.walk(done[0]) if 'job_events' not in root
                   for name in names)
    print('what a private data directory holds after the job: %s, artifacts/%s/job_events/*.json' % (', '.join(files), launched[0]['ident']))
    secrets = {'alice password': auth['passwords']['alice'], 'static token': auth['static_token'],
               'bob password': auth['passwords']['bob'], 'client secret': auth['client_secret']}
    scanned, found = leaks(work, secrets)
    events = [path for path in scanned if os.sep + 'job_events' + os.sep in path]
    print('scanned %d files (%d bytes, %d job events) for %d secrets' % (len(scanned), sum(os.path.getsize(p) for p in scanned), len(events), len(secrets)))
    for path, hits in sorted(found.items()):
        print('  holds a secret: %s (%s)' % (path, ', '.join(hits)))
    # Where secrets may be, and must be (so that the README stays true): env/envvars where the job put them there, and
    # artifacts/<ident>/command, in which ansible-runner records the whole environment of ansible-playbook.
    expected = {}
    for job, private in zip(launched, done, strict=True):
        name = os.path.relpath(private, work)
        secret = 'static token' if job['inputs']['auth'] == 'bearer' else 'alice password'
        expected[os.path.join(name, 'artifacts', job['ident'], 'command')] = [secret]
        if not job.get('secrets_in_process_env'):
            expected[os.path.join(name, 'env', 'envvars')] = [secret]
    # Exactly these files, so none in job_events, artifacts/*/stdout or *.runner-output.txt.
    check(found == expected, 'secrets are in %s, expected exactly in %s' % (sorted(found), sorted(expected)))
    check(len(events) > 20, 'too few job events to prove anything')
    passed('no secret in the output of ansible-runner, in artifacts/*/stdout or in any of the %d job events' % len(events))


if __name__ == '__main__':
    try:
        main(sys.argv[1:])
    except Failure as exc:
        print('FAILED: %s' % exc)
        print('%d passed, 1 failed' % len(PASSED))
        sys.exit(1)
    print('%d passed, 0 failed' % len(PASSED))
