#!/usr/bin/env bash
# The Kerberos tier's dependencies: MIT Kerberos KDC and client tools (Debian packages) and gssapi/krb5 for Python.
# Usage: tools/install_kerberos.sh PYTHON
# Installs what is missing. Where the system packages cannot be installed it says so loudly and leaves the marker
# build/kerberos-unavailable, so the integration run skips only the Kerberos cases; under CI (CI=true) that is an error.
set -euo pipefail
python=$1
marker=build/kerberos-unavailable
mkdir -p build
rm -f "$marker"
packages=(krb5-kdc krb5-admin-server krb5-user libkrb5-dev gcc)

unavailable() {
  echo "*** KERBEROS TIER SKIPPED: $1 ***" >&2
  if [ "${CI:-}" = "true" ]; then
    echo "CI must run the Kerberos tier: failing." >&2
    exit 1
  fi
  echo "$1" > "$marker"
  exit 0
}

if ! { command -v krb5kdc && command -v kdb5_util && command -v kadmin.local && command -v kinit && command -v krb5-config; } >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    as_root=()
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
  else
    unavailable "the Debian packages ${packages[*]} are missing and this user cannot install them (not root, no sudo)"
  fi
  command -v apt-get >/dev/null 2>&1 || unavailable "no apt-get here to install ${packages[*]}"
  echo "Installing ${packages[*]}"
  "${as_root[@]}" apt-get update -qq || unavailable "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq "${packages[@]}" >/dev/null || unavailable "apt-get install ${packages[*]} failed"
fi

# gssapi and krb5 have no Linux wheels on PyPI: pip builds them once (a few minutes) and reuses its wheel cache afterwards.
if ! "$python" -c 'import gssapi, krb5' 2>/dev/null; then
  echo "Building and installing gssapi and krb5 for Python (first time only; pip caches the wheels)"
  "$python" -m pip install --quiet --disable-pip-version-check -r tools/requirements-kerberos.txt
fi
"$python" -c 'import gssapi, krb5, spnego; print("Kerberos tier ready: gssapi", gssapi.__version__ if hasattr(gssapi, "__version__") else "", "pyspnego", spnego.__version__ if hasattr(spnego, "__version__") else "")'
