#!/bin/bash
# Builds the sweep once, then submits the array job (sweep.sbatch) and the merge job
# (merge.sbatch) that starts when every array task has finished successfully.
#   tools/cluster/submit.sh            # from anywhere in the repository
#   CARGO_FEATURES=wgpu tools/cluster/submit.sh
#   SHARDS=8 tools/cluster/submit.sh   # the number of array tasks (default 3), set here only
set -euo pipefail
SHARDS=${SHARDS:-3}

cd "$(dirname "$0")/../.."          # the repository root: the jobs run where they are submitted
cargo build --release --example sweep ${CARGO_FEATURES:+--features "$CARGO_FEATURES"}
mkdir -p logs results                # Slurm does not create the directory of --output

# --array on the command line overrides the script's #SBATCH default; the merge is told SHARDS.
jid=$(sbatch --parsable --array=0-$((SHARDS - 1)) tools/cluster/sweep.sbatch)
jid=${jid%%;*}                       # --parsable prints "id" or "id;cluster"
echo "array job $jid"
sbatch --dependency=afterok:"$jid" --export=ALL,SHARDS="$SHARDS" tools/cluster/merge.sbatch
