#!/usr/bin/env bash
# Score a batch of trichoscopy photos as a Slurm job array: 16 tasks, each scoring
# one shard (1/16 of the photos) into OUT_ROOT/shard-<task>.
#
#   jid=$(sbatch --parsable deploy/slurm-batch.sh OUT_ROOT INPUT... [batch options])
#   sbatch --dependency=afterok:$jid deploy/slurm-merge.sh OUT_ROOT
#
# e.g. deploy/slurm-batch.sh /scratch/run1 /data/photos --um-per-px 6
#  or  deploy/slurm-batch.sh /scratch/run1 --manifest /data/sessions.csv
#
# Every task must see the same inputs (same paths, same files): shards are taken
# by position in the sorted input list, and `trichometry merge` refuses shards
# of different lists. A task that was killed (time limit, preemption, node
# failure) can simply be run again, e.g. `sbatch --array=7 ...`: --resume keeps
# the photos it already scored.
#SBATCH --job-name=trichometry
#SBATCH --array=0-15
#SBATCH --cpus-per-task=8
#SBATCH --mem=16G
#SBATCH --time=04:00:00
#SBATCH --output=trichometry-%A_%a.log
set -euo pipefail

SHARDS=16 # keep equal to the number of tasks in --array above
OUT_ROOT=${1:?usage: sbatch deploy/slurm-batch.sh OUT_ROOT INPUT... [batch options]}
shift

status=0
trichometry batch "$@" \
    --out "$OUT_ROOT/shard-$SLURM_ARRAY_TASK_ID" \
    --shard "$SLURM_ARRAY_TASK_ID/$SHARDS" \
    --threads "${SLURM_CPUS_PER_TASK:-1}" \
    --resume || status=$?
# 2: the shard finished and some photos have error rows (see results.csv);
# that is a result, not a failed task, and must not block the merge.
if [ "$status" -eq 2 ]; then
    status=0
fi
exit "$status"
