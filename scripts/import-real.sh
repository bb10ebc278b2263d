#!/usr/bin/env bash
# Imports every public Terraform configuration of
# tests/import/real/configurations.tsv with `vnetd import terraform`, runs
# `vnetd check` on each result (with the expectations file the row names,
# appended), and compares the outcome with the row's: `imports` must
# import and pass check, `refused` must be refused by the import.
#
# The configurations are not in this repository (they are other projects'
# code): each row names its repository, commit and directory. They are
# read from local copies of the repositories:
#
#   scripts/import-real.sh [--mirrors DIR] [--vnetd PATH]
#
# --mirrors DIR   a directory with one git repository per source, named
#                 OWNER+NAME (a clone, or a bare repository at
#                 OWNER+NAME/repo); a missing one is cloned there from
#                 https://github.com/OWNER/NAME when the network allows.
#                 Default: target/import-real/mirrors.
# --vnetd PATH    the vnetd binary (default: target/release/vnetd, built
#                 when missing).
#
# Prints one line per configuration and a count; exits 1 when an outcome
# differs from the manifest's.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
manifest="$root/tests/import/real/configurations.tsv"
expectations="$root/tests/import/real/expectations"
mirrors="$root/target/import-real/mirrors"
vnetd=""
while [ $# -gt 0 ]; do
    case "$1" in
        --mirrors) mirrors=$2; shift 2 ;;
        --vnetd) vnetd=$2; shift 2 ;;
        *) echo "usage: $0 [--mirrors DIR] [--vnetd PATH]" >&2; exit 2 ;;
    esac
done
if [ -z "$vnetd" ]; then
    vnetd="$root/target/release/vnetd"
    [ -x "$vnetd" ] || (cd "$root" && cargo build --release --quiet)
fi
vnetd="$(cd "$(dirname "$vnetd")" && pwd)/$(basename "$vnetd")"
mkdir -p "$mirrors"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The git directory of OWNER/NAME, cloned when there is none.
git_dir() {
    local slug=${1/\//+}
    if [ -d "$mirrors/$slug/repo" ]; then
        echo "$mirrors/$slug/repo"
    elif [ -d "$mirrors/$slug/.git" ]; then
        echo "$mirrors/$slug/.git"
    else
        git clone --quiet --bare "https://github.com/$1" "$mirrors/$slug/repo" >&2
        echo "$mirrors/$slug/repo"
    fi
}

# The work tree of OWNER/NAME at COMMIT, extracted once.
tree_of() {
    local tree="$work/${1/\//+}-$2"
    if [ ! -d "$tree" ]; then
        mkdir -p "$tree"
        git --git-dir="$(git_dir "$1")" archive "$2" | tar -x -C "$tree"
    fi
    echo "$tree"
}

total=0 imported=0 refused=0 differing=0
while IFS=$'\t' read -r repo commit dir licence outcome expect why; do
    case "$repo" in '#'*|'') continue ;; esac
    total=$((total + 1))
    tree=$(tree_of "$repo" "$commit")
    out="$work/out.yaml"
    if (cd "$tree" && "$vnetd" import terraform "$dir" >"$out" 2>"$work/err"); then
        [ "$expect" = "-" ] || cat "$expectations/$expect" >>"$out"
        if "$vnetd" check "$out" >"$work/check" 2>&1; then
            got=imports
            note=$(tail -1 "$work/check" | sed "s|^$out: ||")
            imported=$((imported + 1))
        else
            got=refused-by-check
            note=$(head -1 "$work/check")
        fi
    else
        got=refused
        note=$(head -1 "$work/err")
        refused=$((refused + 1))
    fi
    mark=ok
    if [ "$got" != "$outcome" ]; then
        mark=DIFFERS
        differing=$((differing + 1))
    fi
    printf '%-7s %-8s %s %s (%s): %s\n' "$mark" "$got" "$repo" "$dir" "$licence" "$note"
done <"$manifest"

echo "$imported of $total configurations import and pass vnetd check; $refused refused, as listed; $differing differ from the manifest"
[ "$differing" -eq 0 ]
