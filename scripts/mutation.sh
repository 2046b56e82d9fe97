#!/usr/bin/env bash
# Mutation testing of the modules whose numbers users read off the screen (mutmut 3.8, configured in
# pyproject.toml [tool.mutmut]). Slow (minutes per module): run by hand, never in CI.
#   bash scripts/mutation.sh                      # the four modules below
#   bash scripts/mutation.sh layouts/kpi.py ...   # some of them (paths or dotted names)
# Prints killed/total and the kill rate per module, then the surviving mutants
# (inspect one with `mutmut show <name>`). Full mutmut output: mutants/<module>.log.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip show mutmut >/dev/null 2>&1 || python3 -m pip install --quiet --disable-pip-version-check "mutmut==3.8.1"

modules=("$@")
if [ ${#modules[@]} -eq 0 ]; then
  modules=(datasources/rules.py layouts/kpi.py callbacks/cockpit.py layouts/map_figure.py datasources/repository.py)
fi

mkdir -p mutants
# mutmut keeps its test-to-function map across runs and only adds tests it has not seen: drop it so that
# edited tests count (collecting it again takes a few seconds; later modules of this run reuse it).
rm -f mutants/mutmut-stats.json
for m in "${modules[@]}"; do
  dotted="${m%.py}"; dotted="${dotted//\//.}"
  log="mutants/${dotted}.log"
  echo "== ${dotted}: mutmut run '${dotted}.*' (log: ${log})"
  # mutmut exits non-zero when mutants survive; the summary below says how many.
  mutmut run "${dotted}.*" >"${log}" 2>&1 || true
  if ! grep -q "Running mutation testing" "${log}"; then
    tail -n 30 "${log}"
    echo "mutmut did not run for ${dotted}" >&2
    exit 1
  fi
done

python3 - "${modules[@]}" <<'PY'
import json
import sys
from collections import Counter
from pathlib import Path

# mutmut's exit codes: 1 and 3 = a test failed (killed); 24/-24/152/255/36 = timeout (an endless loop
# is detected too); 0 = survived; 33/5 = no test covers it; 37 = caught by the type checker.
KILLED = {1, 3}
TIMEOUT = {24, -24, 152, 255, 36}
rows, survivors = [], []
for m in sys.argv[1:]:
    path = m if m.endswith(".py") else m.replace(".", "/") + ".py"
    dotted = path[:-3].replace("/", ".")
    meta = Path("mutants") / f"{path}.meta"
    codes = json.loads(meta.read_text())["exit_code_by_key"]
    mine = {k: v for k, v in codes.items() if k.startswith(dotted + ".")}
    c = Counter("killed" if v in KILLED else "timeout" if v in TIMEOUT else "survived" if v == 0
                else "no tests" if v in (5, 33) else "not run" if v is None else f"exit {v}" for v in mine.values())
    detected = c["killed"] + c["timeout"]
    total = len(mine)
    rows.append((path, detected, total, c))
    survivors += sorted(k for k, v in mine.items() if v not in KILLED | TIMEOUT)
print()
print(f"{'module':32} {'killed/total':>13} {'rate':>7}   other")
for path, detected, total, c in rows:
    rate = f"{100 * detected / total:5.1f}%" if total else "    –"
    other = ", ".join(f"{k} {n}" for k, n in sorted(c.items()) if k != "killed")
    print(f"{path:32} {detected:>6}/{total:<6} {rate:>7}   {other}")
if survivors:
    by_function = Counter(s.split("__mutmut_")[0] for s in survivors)
    print("\nnot killed, by function:")
    for fn, n in sorted(by_function.items()):
        print(f"  {n:4}  {fn}")
    print("\nnot killed (inspect with `mutmut show <name>`):")
    for s in survivors[:80]:
        print("  ", s)
    if len(survivors) > 80:
        print(f"   … and {len(survivors) - 80} more: `mutmut results`")
PY
