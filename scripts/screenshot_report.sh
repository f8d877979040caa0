#!/usr/bin/env bash
# Renders the demo's HTML report in headless Chromium and saves a screenshot, to check that the
# charts render in a real browser. Installs Debian's chromium if it is missing (large; not part of
# `make test`).
#   scripts/screenshot_report.sh [REPORT_HTML] [OUTPUT_PNG]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
report=$(realpath "${1:-$root/demo-out/report.html}")
output=${2:-$root/docs/report.png}
if ! command -v chromium >/dev/null; then
  echo "screenshot: installing chromium"
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq chromium
fi
[[ -f "$report" ]] || { echo "screenshot: no report at $report (run make demo first)" >&2; exit 1; }
mkdir -p "$(dirname "$output")"
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1000,2000 \
  --screenshot="$output" "file://$report" 2>/dev/null
# A rendered page with charts is far from blank: check the image has real content.
size=$(stat -c %s "$output")
if (( size < 20000 )); then
  echo "screenshot: $output is only $size bytes; the report did not render" >&2
  exit 1
fi
echo "screenshot: $output ($size bytes)"
