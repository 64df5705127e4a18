#!/usr/bin/env bash
# Signs dist/Frontdesk.app for distribution outside the App Store: every nested
# binary first, then each framework, then the app itself with the hardened
# runtime and entitlements.plist. Apple discourages `codesign --deep` for signing
# (it applies one set of options to everything and misses code in odd places), so
# the order is done by hand, inside out.
# Usage: packaging/macos/sign_app.sh "Developer ID Application: Name (TEAMID)" [path/to/Frontdesk.app]
# See SIGNING.md for the certificate, notarisation and checks.
set -euo pipefail

identity="${1:?usage: sign_app.sh IDENTITY [APP]}"
here="$(cd "$(dirname "$0")" && pwd)"
app="${2:-$here/../../dist/Frontdesk.app}"
entitlements="$here/entitlements.plist"
main_exe="$app/Contents/MacOS/$(/usr/libexec/PlistBuddy -c 'Print :CFBundleExecutable' "$app/Contents/Info.plist")"

sign() {
  codesign --force --timestamp --options runtime --sign "$identity" "$@"
}

# 1. Loose Mach-O files (Python extension modules, dylibs, the Python library),
#    except those inside a .framework, which are signed with their framework.
while IFS= read -r -d '' file; do
  case "$(file -b "$file")" in
    *Mach-O*) sign "$file" ;;
  esac
done < <(find "$app/Contents" -type f -not -path '*.framework/*' -not -path "$main_exe" -print0)

# 2. Framework bundles (Qt's); -depth lists a nested framework before the one
#    holding it, so an outer seal always covers signed contents.
while IFS= read -r -d '' framework; do
  sign "$framework"
done < <(find "$app/Contents" -depth -type d -name '*.framework' -print0)

# 3. The app: its main executable and the bundle seal, with the entitlements.
sign --entitlements "$entitlements" "$app"

codesign --verify --deep --strict --verbose=2 "$app"
