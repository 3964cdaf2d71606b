#!/usr/bin/env bash
# Put the awx.awx collection into DEST/ansible_collections/awx/awx, for ansible-lint and ansible-playbook
# --syntax-check of playbooks/awx_setup.yml: ANSIBLE_COLLECTIONS_PATH=...:DEST.
# It takes awx.awx out of the `ansible` community wheel pinned (with its hash) in tools/ee/awx-collection.txt, because
# Galaxy may not be reachable; nothing else of that wheel is kept. Nothing happens when DEST already has that pin.
# Usage: tools/ee/fetch_awx_collection.sh PYTHON DEST     (PYTHON: any Python with pip)
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 PYTHON DEST" >&2; exit 2; }
python=$1
dest=$2
pin=$(cd "$(dirname "$0")" && pwd)/awx-collection.txt
if [ -f "$dest/.pin" ] && cmp -s "$pin" "$dest/.pin" && [ -f "$dest/ansible_collections/awx/awx/MANIFEST.json" ]; then
    exit 0
fi
download=$(mktemp -d)
trap 'rm -rf "$download"' EXIT
"$python" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: --require-hashes -r "$pin" -d "$download"
rm -rf "$dest"
mkdir -p "$dest"
"$python" - "$download" "$dest" <<'PY'
import glob, json, os, sys, zipfile
download, dest = sys.argv[1:]
(wheel,) = glob.glob(os.path.join(download, '*.whl'))
prefix = 'ansible_collections/awx/awx/'
with zipfile.ZipFile(wheel) as archive:
    members = [name for name in archive.namelist() if name.startswith(prefix) and not name.endswith('/')]
    if not members:
        sys.exit('%s has no awx.awx collection' % os.path.basename(wheel))
    archive.extractall(dest, members)
with open(os.path.join(dest, prefix, 'MANIFEST.json'), encoding='utf-8') as handle:
    info = json.load(handle)['collection_info']
print('awx.awx %s (%d files) from %s into %s' % (info['version'], len(members), os.path.basename(wheel), dest))
PY
cp "$pin" "$dest/.pin"
