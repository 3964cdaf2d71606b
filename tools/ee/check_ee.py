"""Check the execution environment definition without building the image (CI has no container engine).

Usage: python tools/ee/check_ee.py TARBALL CRYPTO_TARBALL   (the collection's, and community.crypto's)
Run it with the Python of a virtual environment that has tools/ee/requirements.txt (ansible-builder, bindep).

1. ansible-builder create writes the build context for execution-environment.yml (in a temporary copy of the files it
   names, with TARBALL where it expects the collection tarball); the Containerfile must use the base image, Python,
   ansible-core and ansible-runner of the definition and install the collection from the tarball, offline.
2. The context's own introspection script (the one the image build runs) reads the collection's
   meta/execution-environment.yml out of the tarball of the context: it must find requirements-ee.txt (requests,
   pyspnego, pyspnego[kerberos]) and bindep.txt.
3. bindep evaluates those system requirements for EL 9 (the base image), Fedora, Debian and Ubuntu: the Kerberos client
   libraries at run time, the compiler and headers only in the builder stage.
It prints one line per check and ends with "N passed, M failed".
"""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile

import yaml
from bindep.depends import Depends

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Where `make build` copies the tarball under a name without the version, so that the definition names no version.
EE_TARBALL = 'build/ee/mim-certificate_management.tar.gz'
# and community.crypto's, which the collection depends on, installed first
EE_CRYPTO = 'build/ee/community-crypto.tar.gz'
COLLECTION = 'mim.certificate_management'

# bindep profiles as bindep computes them on each platform (bindep.depends.Depends.platform_profiles)
PLATFORMS = {
    'centos-9': ['platform:centos', 'platform:centos-9', 'platform:redhat', 'platform:rpm', 'platform:base-py3'],
    'rhel-9': ['platform:rhel', 'platform:rhel-9', 'platform:redhat', 'platform:rpm', 'platform:base-py3'],
    'fedora-41': ['platform:fedora', 'platform:fedora-41', 'platform:redhat', 'platform:rpm', 'platform:base-py3'],
    'debian-12': ['platform:debian', 'platform:debian-12', 'platform:debian-bookworm', 'platform:dpkg', 'platform:base-py3'],
    'ubuntu-24.04': ['platform:ubuntu', 'platform:ubuntu-24', 'platform:ubuntu-24.04', 'platform:ubuntu-noble', 'platform:dpkg',
                     'platform:base-py3'],
}
RUNTIME = {
    'rpm': {'krb5-libs', 'krb5-workstation'},
    'dpkg': {'libkrb5-3', 'libgssapi-krb5-2', 'krb5-user'},
}
COMPILE = {
    'centos-9': {'gcc', 'krb5-devel', 'python3.11-devel'},
    'rhel-9': {'gcc', 'krb5-devel', 'python3.11-devel'},
    'fedora-41': {'gcc', 'krb5-devel', 'python3-devel'},
    'debian-12': {'gcc', 'libkrb5-dev', 'python3-dev'},
    'ubuntu-24.04': {'gcc', 'libkrb5-dev', 'python3-dev'},
}


class Checks:
    """Counts and prints the outcome of each check."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, condition, what, detail=''):
        """Record one check."""
        if condition:
            self.passed += 1
            print('ok - %s' % what)
        else:
            self.failed += 1
            print('FAILED - %s%s' % (what, (': ' + detail) if detail else ''))
        return condition


def read(path):
    """The text of a file."""
    with open(path, encoding='utf-8') as handle:
        return handle.read()


def requirement_lines(text):
    """The requirements of a pip or bindep file: no blank or comment lines, no trailing comments, no surrounding blanks."""
    return [line.split('#')[0].strip() for line in text.splitlines() if line.strip() and not line.startswith('#')]


def packages(bindep_text, profiles):
    """The package names that bindep selects for these profiles (as `bindep -l newline PROFILE...` would)."""
    depends = Depends(bindep_text)
    return set(rule[0] for rule in depends.active_rules(profiles))


def check_definition(checks, definition, version, tarball_name):
    """The definition's pins and the tarball name agree with galaxy.yml."""
    galaxy = definition['dependencies']['galaxy']['collections']
    checks.check([c['name'] for c in galaxy] == ['collections/' + os.path.basename(EE_CRYPTO), 'collections/' + tarball_name]
                 and all(c.get('type') == 'file' for c in galaxy),
                 'the definition installs the collection from collections/%s (type file), galaxy.yml version %s' % (tarball_name, version),
                 repr(galaxy))
    sources = [entry['src'] for entry in definition.get('additional_build_files', [])]
    checks.check(sources == [EE_CRYPTO, EE_TARBALL], 'additional_build_files copies %s and %s' % (EE_CRYPTO, EE_TARBALL), repr(sources))


def check_containerfile(checks, definition, context):
    """The Containerfile that ansible-builder create wrote."""
    containerfile = read(os.path.join(context, 'Containerfile'))
    base = definition['images']['base_image']['name']
    python = definition['dependencies']['python_interpreter']['python_path']
    refs = '%s %s' % (definition['dependencies']['ansible_core']['package_pip'], definition['dependencies']['ansible_runner']['package_pip'])
    checks.check('ARG EE_BASE_IMAGE="%s"' % base in containerfile and 'FROM $EE_BASE_IMAGE AS base' in containerfile,
                 'Containerfile: base image %s' % base)
    checks.check('ARG PYCMD="%s"' % python in containerfile, 'Containerfile: Python %s' % python)
    checks.check('ARG ANSIBLE_INSTALL_REFS="%s"' % refs in containerfile, 'Containerfile: installs %s' % refs)
    checks.check('ARG ANSIBLE_GALAXY_CLI_COLLECTION_OPTS="--offline"' in containerfile
                 and 'ansible-galaxy collection install $ANSIBLE_GALAXY_CLI_COLLECTION_OPTS -r requirements.yml' in containerfile,
                 'Containerfile: ansible-galaxy collection install --offline -r requirements.yml')
    checks.check('introspect.py introspect --write-bindep=/tmp/src/bindep.txt --write-pip=/tmp/src/requirements.txt' in containerfile
                 and '/output/scripts/assemble' in containerfile and '/output/scripts/install-from-bindep' in containerfile,
                 'Containerfile: introspects the collections, builds the wheels (assemble), installs the bindep packages')


def check_context(checks, context, tarball, tarball_name):
    """The files in _build/."""
    build = os.path.join(context, '_build')
    requirements = yaml.safe_load(read(os.path.join(build, 'requirements.yml')))
    checks.check(requirements == {'collections': [{'name': 'collections/' + os.path.basename(EE_CRYPTO), 'type': 'file'},
                                                  {'name': 'collections/' + tarball_name, 'type': 'file'}]},
                 '_build/requirements.yml names the tarball', repr(requirements))
    copied = os.path.join(build, 'collections', tarball_name)
    checks.check(os.path.isfile(copied) and filecmp.cmp(copied, tarball, shallow=False), '_build/collections/%s is the built tarball' % tarball_name)
    with tarfile.open(copied) as archive:
        names = set(archive.getnames())
    shipped = ('meta/execution-environment.yml', 'requirements-ee.txt', 'requirements.txt', 'bindep.txt')
    checks.check(all(name in names for name in shipped), 'the tarball ships %s' % ', '.join(shipped),
                 'missing: %s' % [name for name in shipped if name not in names])
    for script in ('introspect.py', 'assemble', 'install-from-bindep', 'check_galaxy', 'check_ansible'):
        checks.check(os.path.isfile(os.path.join(build, 'scripts', script)), '_build/scripts/%s' % script)
    return copied


def introspect(checks, work, copied):
    """Run the context's introspection on the collection from the context's tarball; return the bindep lines."""
    collections = os.path.join(work, 'collections')
    target = os.path.join(collections, 'ansible_collections', 'mim', 'certificate_management')
    os.makedirs(target)
    with tarfile.open(copied) as archive:
        archive.extractall(target, filter='data')
    script = os.path.join(os.path.dirname(copied), '..', 'scripts', 'introspect.py')
    pip_out, bindep_out = os.path.join(work, 'requirements.txt'), os.path.join(work, 'bindep.txt')
    result = subprocess.run([sys.executable, script, 'introspect', '--write-pip', pip_out, '--write-bindep', bindep_out, collections],
                            capture_output=True, text=True, check=False)
    if not checks.check(result.returncode == 0, 'introspect.py of the context reads the collection', result.stdout + result.stderr):
        return ''
    pip_text = read(pip_out) if os.path.exists(pip_out) else ''
    pip_lines = requirement_lines(pip_text)
    wanted = ['requests>=2.25', 'pyspnego>=0.10', 'cryptography>=3.3', 'pyspnego[kerberos]>=0.10']
    checks.check(sorted(pip_lines) == sorted(wanted), 'Python requirements of the image: %s' % ', '.join(wanted), repr(pip_lines))
    tagged = all(line.endswith('# from collection %s' % COLLECTION) for line in pip_text.splitlines() if line.strip())
    checks.check(tagged, 'each Python requirement is attributed to %s' % COLLECTION)
    bindep_text = read(bindep_out) if os.path.exists(bindep_out) else ''
    own = requirement_lines(read(os.path.join(ROOT, 'bindep.txt')))
    found = requirement_lines(bindep_text)
    checks.check(found == own, 'system requirements of the image: every line of bindep.txt (%d)' % len(own), repr(found))
    return bindep_text


def check_bindep(checks, bindep_text):
    """What bindep installs on each platform: `bindep -l newline` (final image), `bindep -b compile` (builder stage)."""
    for platform, profiles in sorted(PLATFORMS.items()):
        family = 'rpm' if 'platform:rpm' in profiles else 'dpkg'
        runtime = packages(bindep_text, ['default'] + profiles)
        checks.check(runtime == RUNTIME[family], 'bindep on %s, run time: %s' % (platform, ' '.join(sorted(runtime))),
                     'expected %s' % sorted(RUNTIME[family]))
        # rules without a user profile are active for every profile: the builder stage gets the run-time libraries too
        compiled = packages(bindep_text, ['compile'] + profiles) - runtime
        checks.check(compiled == COMPILE[platform], 'bindep on %s, builder stage only (compile): %s' % (platform, ' '.join(sorted(compiled))),
                     'expected %s' % sorted(COMPILE[platform]))


def container_engine():
    """The name of a working container engine, or None."""
    for engine in ('podman', 'docker'):
        if shutil.which(engine) and subprocess.run([engine, 'info'], capture_output=True, check=False).returncode == 0:
            return engine
    return None


def main(argv):
    """Create the context in a temporary directory and check it."""
    if len(argv) != 2 or not all(os.path.isfile(path) for path in argv):
        print(__doc__.split('\n\n', maxsplit=1)[0])
        return 2
    tarball, crypto = (os.path.abspath(path) for path in argv)
    tarball_name = os.path.basename(tarball)
    version = yaml.safe_load(read(os.path.join(ROOT, 'galaxy.yml')))['version']
    checks = Checks()
    checks.check(tarball_name == 'mim-certificate_management-%s.tar.gz' % version, 'the tarball is version %s' % version, tarball_name)
    definition = yaml.safe_load(read(os.path.join(ROOT, 'execution-environment.yml')))
    check_definition(checks, definition, version, os.path.basename(EE_TARBALL))
    work = tempfile.mkdtemp(prefix='mim-cm-ee-')
    try:
        source = os.path.join(work, 'source')
        os.makedirs(os.path.join(source, os.path.dirname(EE_TARBALL)))
        shutil.copy(os.path.join(ROOT, 'execution-environment.yml'), source)
        shutil.copy(tarball, os.path.join(source, EE_TARBALL))
        shutil.copy(crypto, os.path.join(source, EE_CRYPTO))
        context = os.path.join(work, 'context')
        builder = os.path.join(os.path.dirname(sys.executable), 'ansible-builder')
        result = subprocess.run([builder, 'create', '-f', 'execution-environment.yml', '-c', context, '--output-filename', 'Containerfile'],
                                cwd=source, capture_output=True, text=True, check=False)
        if checks.check(result.returncode == 0, 'ansible-builder create', result.stdout + result.stderr):
            check_containerfile(checks, definition, context)
            copied = check_context(checks, context, tarball, os.path.basename(EE_TARBALL))
            bindep_text = introspect(checks, work, copied)
            if bindep_text:
                check_bindep(checks, bindep_text)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    engine = container_engine()
    if engine:
        print('note: %s works here; `ansible-builder build -f execution-environment.yml` would build the image (not done by this check)' % engine)
    else:
        print('note: the image itself is NOT built: no working container engine (podman or docker) here; ansible-builder build needs one')
    print('%d passed, %d failed' % (checks.passed, checks.failed))
    return 1 if checks.failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
