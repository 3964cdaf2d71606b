#!/usr/bin/env bash
# Put the collections the tests need besides this one (awx.awx, community.crypto) into DEST/ansible_collections/, for
# ANSIBLE_COLLECTIONS_PATH=...:DEST, and as tarballs into DEST/tarballs/ (for ansible-galaxy collection install
# --offline, the offline bundle and the execution environment).
# It takes them out of the `ansible` community wheel pinned (with its hash) in tools/collections/ansible-wheel.txt,
# because Galaxy may not be reachable; nothing else of that wheel is kept. Nothing happens when DEST already has that pin.
# Usage: tools/collections/fetch.sh PYTHON DEST [PIN]   (PYTHON: a Python with ansible-galaxy next to it, to build
# tarballs; PIN: the pin file, tools/collections/ansible-wheel.txt by default)
set -euo pipefail
[ $# -eq 2 ] || [ $# -eq 3 ] || { echo "usage: $0 PYTHON DEST [PIN]" >&2; exit 2; }
python=$1
dest=$2
pin=$(cd "$(dirname "${3:-$0}")" && pwd)/$(basename "${3:-ansible-wheel.txt}")
names=(awx/awx community/crypto)
if [ -f "$dest/.pin" ] && cmp -s "$pin" "$dest/.pin" && [ -f "$dest/ansible_collections/community/crypto/MANIFEST.json" ]; then
    exit 0
fi
download=$(mktemp -d)
trap 'rm -rf "$download"' EXIT
"$python" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: --require-hashes -r "$pin" -d "$download"
rm -rf "$dest"
mkdir -p "$dest/tarballs"
"$python" - "$download" "$dest" "${names[@]}" <<'PY'
import glob, json, os, sys, zipfile
download, dest, names = sys.argv[1], sys.argv[2], sys.argv[3:]
(wheel,) = glob.glob(os.path.join(download, '*.whl'))
with zipfile.ZipFile(wheel) as archive:
    for name in names:
        prefix = 'ansible_collections/%s/' % name
        members = [member for member in archive.namelist() if member.startswith(prefix) and not member.endswith('/')]
        if not members:
            sys.exit('%s has no %s collection' % (os.path.basename(wheel), name.replace('/', '.')))
        archive.extractall(dest, members)
        with open(os.path.join(dest, prefix, 'MANIFEST.json'), encoding='utf-8') as handle:
            info = json.load(handle)['collection_info']
        print('%s %s (%d files) from %s into %s' % (name.replace('/', '.'), info['version'], len(members), os.path.basename(wheel), dest))
PY
# A tarball of each, built again from its files with a galaxy.yml made from its MANIFEST.json: the wheel leaves out
# some files that the collection's own FILES.json lists, so the files cannot be packed as they are.
for name in "${names[@]}"; do
    work=$download/build/$name
    mkdir -p "$work" && cp -r "$dest/ansible_collections/$name/." "$work"
    "$python" - "$work" <<'PY'
import json, os, sys, yaml
work = sys.argv[1]
info = json.load(open(os.path.join(work, 'MANIFEST.json'), encoding='utf-8'))['collection_info']
keys = ('namespace', 'name', 'version', 'readme', 'authors', 'description', 'license', 'license_file', 'tags',
        'dependencies', 'repository', 'documentation', 'homepage', 'issues')
galaxy = {key: info[key] for key in keys if info.get(key)}
galaxy.setdefault('readme', 'README.md')
with open(os.path.join(work, 'galaxy.yml'), 'w', encoding='utf-8') as handle:
    yaml.safe_dump(galaxy, handle)
for generated in ('MANIFEST.json', 'FILES.json'):
    os.remove(os.path.join(work, generated))
PY
    (cd "$work" && "$(dirname "$python")/ansible-galaxy" collection build --output-path "$dest/tarballs" > /dev/null)
done
cp "$pin" "$dest/.pin"
