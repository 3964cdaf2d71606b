# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's nox sessions: antsibull-nox defines them from antsibull-nox.toml.

Install tools/requirements-nox.txt (nox and antsibull-nox) into a venv, then run `nox --list` there to see them.
"""

import os
import sys

import nox

try:
    import antsibull_nox
except ImportError:
    print('antsibull-nox is missing: install tools/requirements-nox.txt into the Python environment of nox.')
    sys.exit(1)

# By default only this collection and ansible-core's own: no collection installed elsewhere on the machine
# (~/.ansible, ...) takes part, and no session needs ansible-galaxy on PATH. `make nox` sets it to false, with
# ANSIBLE_COLLECTIONS_PATH naming the directory of community.crypto (a dependency), since Galaxy may be out of reach.
os.environ.setdefault('ANTSIBULL_NOX_IGNORE_INSTALLED_COLLECTIONS', 'true')

antsibull_nox.load_antsibull_nox_toml()

if __name__ == '__main__':
    nox.main()
