#!/usr/bin/env bash
# Run this collection's molecule scenarios offline, against the built collection tree (make tree).
# Usage: extensions/molecule/run.sh PYTHON [molecule arguments]
#   PYTHON: the Python of the virtual environment that has ansible-core and molecule (.venv/bin/python)
#   molecule arguments: default "test --all"; for example "converge -s finalize_request" or "destroy --all"
# Called from a checkout, it runs the copy in build/ansible_collections/mim/certificate_management, so that molecule,
# the role and the scenario all come from one tree. Molecule installs nothing: the scenario disables its dependency
# step and prerun, and ANSIBLE_COLLECTIONS_PATH names the directory above that tree.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 PYTHON [molecule arguments]" >&2; exit 2; }
python=$1
shift
bin=$(cd "$(dirname "$python")" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
case $root in
    */ansible_collections/mim/certificate_management) ;;
    *)
        tree=$root/build/ansible_collections/mim/certificate_management
        [ -x "$tree/extensions/molecule/run.sh" ] || { echo "no collection tree at $tree: run make tree first" >&2; exit 2; }
        exec "$tree/extensions/molecule/run.sh" "$python" "$@"
        ;;
esac
[ -x "$bin/molecule" ] || { echo "molecule is not installed in $bin: $bin/pip install molecule==26.10.0" >&2; exit 2; }
ANSIBLE_COLLECTIONS_PATH=$(cd "$root/../../.." && pwd)
export ANSIBLE_COLLECTIONS_PATH
export PATH=$bin:$PATH
# molecule colours its output unless told not to; follow ANSIBLE_NOCOLOR (the Makefile sets it)
if [ -n "${ANSIBLE_NOCOLOR:-}" ]; then export NO_COLOR=1; fi
cd "$root"
[ $# -gt 0 ] || set -- test --all
exec "$bin/molecule" "$@"
