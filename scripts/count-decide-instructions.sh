#!/usr/bin/env bash
# Instructions per decision, counted by callgrind, for the cases of
# benches/decide_instructions.rs: a figure that compares two builds of the
# per-packet decision exactly, where the timings of `cargo bench --bench
# decide` on a shared machine move by several percent between rounds.
#
#   scripts/count-decide-instructions.sh [BINARY] [N]
#
# BINARY is a decide_instructions bench binary (default: built here with
# `cargo bench --bench decide_instructions --no-run`); to compare with an
# older tree, build it there and pass its binary. Each case runs N and 2N
# decisions (default N = 100000) and the difference, divided by N, is
# printed: the lab's compile and the program's start cancel out.
# Needs valgrind (Debian package `valgrind`).
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${1:-}
n=${2:-100000}
if [ -z "$bin" ]; then
  bin=$(cargo bench --bench decide_instructions --no-run 2>&1 |
    sed -n 's/.*Executable .*(\(.*\))$/\1/p' | tail -1)
fi
[ -x "$bin" ] || { echo "count-decide-instructions: no binary at '$bin'" >&2; exit 1; }
command -v valgrind >/dev/null || { echo "count-decide-instructions: needs valgrind" >&2; exit 1; }

collected() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" 2>&1 |
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}

for case in peering nva nsg-deny spoke-to-branch branch-to-spoke \
  known-peering known-nva known-nsg-deny; do
  once=$(collected "$case" "$n")
  twice=$(collected "$case" $((2 * n)))
  printf '%-16s %6d instructions a decision\n' "$case" $(((twice - once) / n))
done
