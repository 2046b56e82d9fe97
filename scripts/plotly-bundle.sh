#!/usr/bin/env bash
# assets/plotly-map.min.js: plotly.js's own "map" partial bundle (scattermap, choroplethmap, densitymap, and
# scatter, which is always in), minified, with its version and MIT licence header, of the plotly.js version the
# installed plotly.py ships. The pages draw only these traces; Dash's full plotly.min.js (4.8 MB decoded, every
# trace type) is left out of the page (callbacks/security.py, HardenedDash._setup_plotlyjs).
#
# Run after upgrading plotly (needs npm and the npm registry, nothing else). If a page ever draws another trace
# type (bar, pie…), plotly.js warns in the console and draws nothing for it: build a custom bundle then
# (plotly.js CUSTOM_BUNDLE.md, `npm run custom-bundle -- --traces scattermap,choroplethmap,densitymap,bar`).
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(python -c "from plotly.offline import get_plotlyjs_version as v; print(v())")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "plotly.js@$version" >/dev/null)
tar -xzf "$tmp/plotly.js-$version.tgz" -C "$tmp" package/dist/plotly-map.min.js
head -c 200 "$tmp/package/dist/plotly-map.min.js" | grep -q "plotly.js (map - minified) v$version" \
  || { echo "unexpected header in plotly-map.min.js of plotly.js $version" >&2; exit 1; }
cp "$tmp/package/dist/plotly-map.min.js" assets/plotly-map.min.js
echo "assets/plotly-map.min.js: plotly.js $version map bundle, $(wc -c < assets/plotly-map.min.js) bytes"
