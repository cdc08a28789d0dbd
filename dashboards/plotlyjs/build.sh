#!/usr/bin/env bash
# Rebuild dashboards/assets/plotly-onemap.min.js: plotly.js with only the traces the pages draw (entry.js),
# about 3.1 MB instead of the full bundle's 4.8 MB. Needs node and npm (Debian: nodejs npm) and the npm
# registry; the versions are pinned in package-lock.json, so the same file comes out byte for byte.
# The file is committed: the server and CI need neither node nor npm.
# After changing plotly (the Python package) or a page's trace types: edit package.json / entry.js, then
#   npm install --package-lock-only (here), and run this.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$here"/package.json "$here"/package-lock.json "$here"/entry.js "$here"/build.js "$work"/
cd "$work"
npm ci --no-audit --no-fund --loglevel=error
node build.js "$here/../assets/plotly-onemap.min.js"
