#!/usr/bin/env bash
# Batch throughput against thread count, measured in one run on one machine.
# Usage: benches/batch_scaling.sh [PHOTOS] [WIDTH] [HEIGHT] [THREADS...]
# Generates PHOTOS clipped-dark photos (seeds 1000…), then times
# `trichometry batch` over them with each thread count and prints photos/s and
# the speed-up over one thread.
set -euo pipefail
cd "$(dirname "$0")/.."
photos=${1:-64}
width=${2:-1280}
height=${3:-1024}
shift $(( $# < 3 ? $# : 3 ))
threads=("$@")
if [ ${#threads[@]} -eq 0 ]; then threads=(1 2 4 8 16); fi

# TRICHOMETRY_BIN: a prebuilt binary (e.g. on a machine without a toolchain).
bin=${TRICHOMETRY_BIN:-}
if [ -z "$bin" ]; then
    cargo build --release --quiet
    bin=target/release/trichometry
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for ((s = 1000; s < 1000 + photos; s++)); do
    "$bin" synth --scenario clipped-dark --seed "$s" --width "$width" --height "$height" \
        --out "$work/photos" >/dev/null
done
rm -f "$work"/photos/*.json

echo "photos=$photos size=${width}x${height} cpus=$(nproc)"
base=""
for t in "${threads[@]}"; do
    start=$(date +%s.%N)
    "$bin" batch "$work/photos" --um-per-px 6 --out "$work/out-$t" --threads "$t" --quiet
    end=$(date +%s.%N)
    secs=$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')
    [ -z "$base" ] && base=$secs
    awk -v t="$t" -v s="$secs" -v n="$photos" -v b="$base" \
        'BEGIN { printf "threads %2d  %7.2f s  %6.2f photos/s  speed-up %5.2fx\n", t, s, n / s, b / s }'
    cmp "$work/out-${threads[0]}/results.csv" "$work/out-$t/results.csv" >/dev/null \
        || echo "  results.csv differs from the ${threads[0]}-thread run"
done
