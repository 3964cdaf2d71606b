"""Make ansible-test's pip bootstrap work where its download host is unreachable (air-gapped sites, this CI).

ansible-test bootstraps pip in each virtual environment with a get-pip script it downloads once into
~/.ansible/test/cache/. This tries that download first; only when it fails does it write an equivalent
script that installs pip from the pip wheel fetched from the configured package index (PyPI or a mirror).
Run it with the Python of the virtual environment that holds ansible-test.
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys
import types
import urllib.request

from ansible_test._internal.python_requirements import get_venv_packages

BOOTSTRAP_URL = 'https://ci-files.testing.ansible.com/ansible-test/get-pip-%s.py'

SCRIPT = '''"""Stand-in for get-pip.py written by tools/seed_ansible_test_pip.py: runs pip from its wheel."""
import sys

sys.path.insert(0, %(wheel)r)
from pip._internal.cli.main import main  # noqa: E402  pylint: disable=wrong-import-position

ARGS = [arg for arg in sys.argv[1:] if arg not in ('--no-setuptools', '--no-wheel')]
sys.exit(main(['install', '--upgrade', '--force-reinstall', '--find-links', %(cache)r] + ARGS))
'''


def main():
    """Seed the cache for the pip version this ansible-test wants, if it is not there yet."""
    version = get_venv_packages(types.SimpleNamespace(version='%d.%d' % sys.version_info[:2]))['pip']
    cache_dir = os.path.expanduser('~/.ansible/test/cache')
    cache_path = os.path.join(cache_dir, 'get_pip_%s.py' % version.replace('.', '_'))
    if os.path.exists(cache_path):
        print('ansible-test pip %s bootstrap already cached: %s' % (version, cache_path))
        return
    os.makedirs(cache_dir, exist_ok=True)
    try:
        with urllib.request.urlopen(BOOTSTRAP_URL % version, timeout=15) as answer:
            content = answer.read()
        with open(cache_path + '.download', 'wb') as handle:
            handle.write(content)
        os.replace(cache_path + '.download', cache_path)
        print('ansible-test pip %s bootstrap downloaded: %s' % (version, cache_path))
        return
    except OSError as exc:
        print('ansible-test pip bootstrap download failed (%s); seeding it from the pip %s wheel' % (exc, version))
    subprocess.run([sys.executable, '-m', 'pip', 'download', '--quiet', '--no-deps', '--only-binary', ':all:',
                    '--dest', cache_dir, 'pip==%s' % version], check=True)
    wheel = glob.glob(os.path.join(cache_dir, 'pip-%s-*.whl' % version))[0]
    with open(cache_path, 'w', encoding='utf-8') as handle:
        handle.write(SCRIPT % {'wheel': wheel, 'cache': cache_dir})
    print('ansible-test pip %s bootstrap seeded from %s' % (version, wheel))


if __name__ == '__main__':
    main()
