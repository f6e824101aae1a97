#!/usr/bin/env bash
# Regenerate a section of docs/benchmarks.md: runs each `restore bench` command given as
# an argument and appends the command line, the machine and the printed table verbatim.
#   bash docs/run_benchmarks.sh OUT.md "restore bench denoise --data ... --sigma 25" ...
set -euo pipefail
out=$1; shift
machine="$(nproc) CPU cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/{print $2}') GiB, torch $(python -c 'import torch; print(torch.__version__)'), $(date -u +%Y-%m-%d)"
for cmd in "$@"; do
  {
    echo "Command: \`$cmd\`  "
    echo "Machine: $machine"
    echo
    eval "$cmd --quiet"
    echo
  } >> "$out"
done
