#!/usr/bin/env bash
# assets/plotly-ioc.min.js: a custom plotly.js bundle with only the traces the pages draw — scattermap,
# choroplethmap, densitymap (cockpit, console, analyst map), bar (analyst charts) and scatter (always in
# plotly's core) — minified, of the plotly.js version the installed plotly.py ships, with plotly.js's MIT
# licence header. Built like plotly.js's own dist bundles (esbuild, CSS inlined), from the npm package.
# Dash's full plotly.min.js (4.8 MB decoded, every trace type) is left out of the page
# (callbacks/security.py, HardenedDash._setup_plotlyjs).
#
# Run after upgrading plotly, or when a page starts drawing another trace type (add it to TRACES: plotly.js
# warns in the console and draws nothing for a trace type that is not in the bundle). Needs node, npm and
# the npm registry; nothing at run time.
set -euo pipefail
cd "$(dirname "$0")/.."
TRACES=(scattermap choroplethmap densitymap bar)
version=$(python -c "from plotly.offline import get_plotlyjs_version as v; print(v())")
out="$PWD/assets/plotly-ioc.min.js"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
npm init -y >/dev/null
npm install --silent --no-audit --no-fund "plotly.js@$version" esbuild@0.28.2 \
  esbuild-plugin-inline-css@0.0.1 esbuild-plugin-environment@0.5.0
{
  echo "var Plotly = require('plotly.js/lib/core');"
  echo "Plotly.register(["
  for t in "${TRACES[@]}"; do echo "  require('plotly.js/lib/$t'),"; done
  echo "]);"
  echo "module.exports = Plotly;"
} > entry.js
cat > build.js <<'JS'
// The options of plotly.js's own esbuild-config.js (inline CSS, no NODE_DEBUG, window as global), minified.
const esbuild = require('esbuild');
const InlineCSSPlugin = require('esbuild-plugin-inline-css');
const { environmentPlugin } = require('esbuild-plugin-environment');
esbuild.build({
  entryPoints: ['entry.js'], outfile: 'bundle.js', format: 'iife', globalName: 'Plotly', bundle: true,
  minify: true, plugins: [InlineCSSPlugin(), environmentPlugin({ NODE_DEBUG: false })],
  define: { global: 'window', 'define.amd': 'false' }, target: 'es2016', logLevel: 'warning',
}).catch(() => process.exit(1));
JS
node build.js
{
  printf '/**\n* plotly.js (ioc custom: %s - minified) v%s\n' "${TRACES[*]}" "$version"
  printf '* Copyright 2012-2026, Plotly, Inc.\n* All rights reserved.\n* Licensed under the MIT license\n*/\n'
  cat bundle.js
} > "$out"
echo "assets/plotly-ioc.min.js: plotly.js $version (${TRACES[*]}), $(wc -c < "$out") bytes"
