#!/usr/bin/env bash
# Peak memory (maximum resident set size, from GNU time) of `trichometry analyze`
# on generated 1.3 MP (1280x1024) and 12 MP (4000x3000) photos, and of
# `trichometry batch` over 8 and over 64 photos (#6).
# Usage: benches/memory.sh [BATCH_WIDTH] [BATCH_HEIGHT] [THREADS]
# Prints bytes per pixel above the process's baseline (the same command on a
# 16x16 photo) and the batch peaks; the batch peak must not grow with the
# number of photos (photos are analysed in windows of 2 x threads).
set -euo pipefail
cd "$(dirname "$0")/.."
bw=${1:-640}
bh=${2:-512}
threads=${3:-2}
bin=${TRICHOMETRY_BIN:-}
if [ -z "$bin" ]; then
    cargo build --release --quiet
    bin=${CARGO_TARGET_DIR:-target}/release/trichometry
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
peak_kb() { # command... -> max RSS in KiB
    /usr/bin/time -f "%M" -o "$work/time" "$@" >/dev/null 2>"$work/stderr" || {
        cat "$work/stderr" >&2
        return 1
    }
    tail -1 "$work/time"
}
synth() { # seed width height out
    "$bin" synth --scenario clipped-dark --seed "$1" --width "$2" --height "$3" --out "$4" >/dev/null
}

synth 1 16 16 "$work/tiny"
base=$(peak_kb "$bin" analyze "$work"/tiny/*.png --um-per-px 6)
echo "baseline (16x16 photo): $base KiB"
for size in 1280x1024 4000x3000; do
    w=${size%x*}
    h=${size#*x}
    synth 2 "$w" "$h" "$work/$size"
    start=$(date +%s.%N)
    kb=$(peak_kb "$bin" analyze "$work"/"$size"/*.png --um-per-px 6)
    end=$(date +%s.%N)
    awk -v s="$size" -v kb="$kb" -v b="$base" -v px=$((w * h)) -v t0="$start" -v t1="$end" \
        'BEGIN { printf "analyze %-9s peak %8.1f MiB  %6.1f B/px above baseline  (%.1f s)\n", s, kb / 1024, (kb - b) * 1024 / px, t1 - t0 }'
done

for n in 8 64; do
    mkdir -p "$work/batch-$n"
    for ((s = 100; s < 100 + n; s++)); do
        synth "$s" "$bw" "$bh" "$work/batch-$n"
    done
    rm -f "$work"/batch-"$n"/*.json
    kb=$(peak_kb "$bin" batch "$work/batch-$n" --um-per-px 6 --out "$work/out-$n" --threads "$threads" --quiet)
    awk -v n="$n" -v kb="$kb" -v s="${bw}x${bh}" -v t="$threads" \
        'BEGIN { printf "batch   %2d photos of %s, %d threads: peak %7.1f MiB\n", n, s, t, kb / 1024 }'
done
