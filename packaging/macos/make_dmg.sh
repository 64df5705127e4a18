#!/usr/bin/env bash
# Wraps dist/Frontdesk.app in dist/Frontdesk-<version>.dmg, with an Applications
# shortcut so the person can drag the app across.
# Usage (from anywhere): packaging/macos/make_dmg.sh [version]
# The version defaults to pyproject.toml's [project] version, its one source.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

version="${1:-$(python3 -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')}"
app="dist/Frontdesk.app"
dmg="dist/Frontdesk-${version}.dmg"

if [[ ! -d "$app" ]]; then
  echo "make_dmg: $app not found; build it first (python -m PyInstaller packaging/frontdesk.spec)" >&2
  exit 1
fi

staging="$(mktemp -d "${TMPDIR:-/tmp}/frontdesk-dmg.XXXXXX")"
trap 'rm -rf "$staging"' EXIT

# ditto keeps the bundle's symlinks, permissions and signature intact.
ditto "$app" "$staging/Frontdesk.app"
ln -s /Applications "$staging/Applications"

# hdiutil sometimes fails with "Resource busy" on CI machines; a retry clears it.
for attempt in 1 2 3; do
  if hdiutil create -volname Frontdesk -srcfolder "$staging" -ov -format UDZO "$dmg"; then
    echo "$dmg"
    exit 0
  fi
  echo "make_dmg: hdiutil failed (attempt $attempt), retrying" >&2
  sleep 5
done
echo "make_dmg: could not create $dmg" >&2
exit 1
