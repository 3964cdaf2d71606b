#!/usr/bin/env bash
# Install mim.certificate_management @VERSION@ (with community.crypto, which it depends on) and its Python packages (ansible-core included) from this bundle,
# without any network: pip reads only wheels/ (--no-index, no configuration file, no PIP_* variable) and checks each
# wheel's sha256; ansible-galaxy installs the tarball --offline.
#
#   ./install.sh VENV [COLLECTIONS_PATH]
#
# VENV             the virtual environment to create (or to add to), with Python @PYTHON@ (PYTHON=/path/to/python@PYTHON@
#                  to choose the interpreter)
# COLLECTIONS_PATH where the collection goes; by default into the venv itself (its site-packages), where the venv's
#                  ansible finds it with no configuration
set -euo pipefail
if [ $# -lt 1 ] || [ $# -gt 2 ]; then echo "usage: $0 VENV [COLLECTIONS_PATH]" >&2; exit 2; fi
here=$(cd "$(dirname "$0")" && pwd)
venv=$1
python=${PYTHON:-python@PYTHON@}
if [ ! -x "$venv/bin/python" ]; then
    command -v "$python" >/dev/null || { echo "no $python here: set PYTHON=/path/to/python@PYTHON@" >&2; exit 1; }
    "$python" -m venv "$venv"
fi
actual=$("$venv/bin/python" -c 'import sys, sysconfig; print("%d.%d %s" % (sys.version_info[:2] + (sysconfig.get_platform(),)))')
[ "$actual" = "@PYTHON@ @PLATFORM@" ] || { echo "this bundle is for Python @PYTHON@ on @PLATFORM@, $venv has $actual" >&2; exit 1; }

PIP_CONFIG_FILE=/dev/null "$venv/bin/python" -m pip --isolated --disable-pip-version-check install --quiet \
    --no-index --find-links "$here/wheels" --require-hashes --only-binary :all: -r "$here/requirements.txt"
collections=${2:-$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')}
ANSIBLE_COLLECTIONS_PATH=$collections "$venv/bin/ansible-galaxy" collection install --offline --force \
    -p "$collections" "$here"/community-crypto-*.tar.gz "$here/mim-certificate_management-@VERSION@.tar.gz"
echo "Installed mim.certificate_management @VERSION@ into $collections and its Python packages into $venv."
if [ $# -eq 2 ]; then
    echo "Set ANSIBLE_COLLECTIONS_PATH=$collections (or collections_path in ansible.cfg) unless it is already configured."
fi
echo "Try: $venv/bin/ansible-doc mim.certificate_management.cm_request_status"
