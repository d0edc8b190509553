#!/usr/bin/env bash
# Peer comparison (#5): trichometry, a scikit-image pipeline and an OpenCV
# pipeline on the same generated photos, one thread each, timed and scored
# against the generator's truth in one run. Writes benches/peers/results.md.
#
# Usage: bash benches/peers/run.sh [SEED...]   (default seeds 301-304)
# Env: WIDTH, HEIGHT (default 1280x1024), SCENARIO (default clipped-dark),
#      PYTHON (default python3, >= 3.11), CARGO_TARGET_DIR (respected).
# Needs: a Rust toolchain, Python >= 3.11 with venv, and network to PyPI on the
# first run (the venv is kept in benches/peers/.venv).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"
seeds=("$@")
[ ${#seeds[@]} -gt 0 ] || seeds=(301 302 303 304)
width=${WIDTH:-1280}
height=${HEIGHT:-1024}
scenario=${SCENARIO:-clipped-dark}

venv="$here/.venv"
if [ ! -x "$venv/bin/python" ]; then
    "${PYTHON:-python3}" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"

cargo build --release --quiet
target=$(cargo metadata --format-version 1 --no-deps |
    "$venv/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
bin="$target/release/trichometry"

photos="$here/photos"
rm -rf "$photos"
mkdir -p "$photos"
for seed in "${seeds[@]}"; do
    "$bin" synth --scenario "$scenario" --seed "$seed" --width "$width" --height "$height" \
        --out "$photos" >/dev/null
done

export RAYON_NUM_THREADS=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
cmd="bash benches/peers/run.sh"
[ $# -eq 0 ] || cmd="$cmd $*"
[ -z "${WIDTH:-}${HEIGHT:-}${SCENARIO:-}" ] || cmd="WIDTH=$width HEIGHT=$height SCENARIO=$scenario $cmd"
"$venv/bin/python" "$here/compare.py" --bin "$bin" --photos "$photos" \
    --out "$here/results.md" --command "$cmd"
