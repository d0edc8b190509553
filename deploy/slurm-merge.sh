#!/usr/bin/env bash
# Merge the shards written by deploy/slurm-batch.sh into OUT_ROOT/merged:
#
#   sbatch --dependency=afterok:$jid deploy/slurm-merge.sh OUT_ROOT
#
# The merge refuses a missing or repeated shard, shards of different input lists
# and a photo in two shards, and leaves no result files when it refuses.
#SBATCH --job-name=trichometry-merge
#SBATCH --cpus-per-task=1
#SBATCH --mem=2G
#SBATCH --time=00:30:00
#SBATCH --output=trichometry-merge-%j.log
set -euo pipefail

OUT_ROOT=${1:?usage: sbatch deploy/slurm-merge.sh OUT_ROOT}
trichometry merge "$OUT_ROOT"/shard-* --out "$OUT_ROOT/merged"
