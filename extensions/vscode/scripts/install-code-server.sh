#!/usr/bin/env bash
# Installs code-server (VS Code 1.100.3, the last one on Node 20) from the npm registry, offline
# apart from the registry: ripgrep's download is pre-seeded with Debian's `rg` and Node's headers
# come from the system. Usage: install-code-server.sh DEST   (prints DEST/…/bin/code-server)
set -euo pipefail
VERSION=4.100.3
DEST=${1:?usage: install-code-server.sh DEST}
BIN="$DEST/node_modules/code-server/out/node/entry.js"
if [ -f "$DEST/.installed-$VERSION" ] && [ -f "$BIN" ]; then
    echo "$DEST/node_modules/.bin/code-server"
    exit 0
fi
command -v rg >/dev/null || { echo "install-code-server: needs ripgrep (apt-get install ripgrep)" >&2; exit 1; }
[ -d /usr/include/node ] || { echo "install-code-server: needs Node headers in /usr/include/node" >&2; exit 1; }
mkdir -p "$DEST"
TMP_SEED=$(mktemp -d)
trap 'rm -rf "$TMP_SEED"' EXIT
# @vscode/ripgrep's postinstall downloads this archive unless it finds it in $TMPDIR's cache.
CACHE="$TMP_SEED/vscode-ripgrep-cache-1.15.11"
mkdir -p "$CACHE" "$TMP_SEED/rg"
cp "$(command -v rg)" "$TMP_SEED/rg/rg"
tar -C "$TMP_SEED/rg" -czf "$CACHE/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz" rg
cd "$DEST"
[ -f package.json ] || echo '{"name": "code-server-scratch", "private": true}' > package.json
TMPDIR="$TMP_SEED" npm_config_unsafe_perm=true npm_config_yes=true npm_config_nodedir=/usr \
    JOBS=${JOBS:-2} npm install --no-audit --no-fund --loglevel=error "code-server@$VERSION" >&2
touch "$DEST/.installed-$VERSION"
echo "$DEST/node_modules/.bin/code-server"
