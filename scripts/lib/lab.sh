# Running one lab at a time from a benchmark script, sourced by it:
#
#   start_lab FILE [vnetd run args...]   runs `$BINARY run` until "lab up"
#   stop_lab                             stops it (SIGTERM removes the lab)
#
# The caller sets BINARY (the vnetd binary), WORK (a scratch directory) and
# NAME (its own name, for messages), and calls stop_lab from its EXIT trap.

LAB_PID=""

stop_lab() {
    if [[ -n $LAB_PID ]]; then
        kill -TERM "$LAB_PID" 2>/dev/null || true
        wait "$LAB_PID" 2>/dev/null || true
        LAB_PID=""
    fi
}

start_lab() {
    local file=$1
    shift
    "$BINARY" run "$file" "$@" >"$WORK/run.log" 2>&1 &
    LAB_PID=$!
    for _ in $(seq 1 300); do
        grep -q "lab up" "$WORK/run.log" && return 0
        kill -0 "$LAB_PID" 2>/dev/null || { cat "$WORK/run.log" >&2; exit 1; }
        sleep 0.1
    done
    echo "$NAME: the lab did not come up" >&2
    exit 1
}
