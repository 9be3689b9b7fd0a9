#!/bin/bash
# Runs the sweep as an Indexed Job (sweep-indexed-job.yaml), waits for every index to
# succeed, then runs the merge (sweep-merge-job.yaml) and prints its report. If an index
# fails for good the first wait runs into its timeout: see kubectl describe job/mcnn-sweep.
# To run again, first kubectl delete job mcnn-sweep mcnn-sweep-merge (the volume, with its
# parts, stays: the new pods resume them).
#   SHARDS=8 tools/cluster/submit-kubernetes.sh   # the number of shards (default 3), set here only
set -euo pipefail
here=$(dirname "$0")
SHARDS=${SHARDS:-3}
case $SHARDS in '' | *[!0-9]* | 0) echo "SHARDS=$SHARDS: expected a whole number ≥ 1" >&2; exit 2;; esac

# A manifest with every value marked `# SHARDS` (completions, parallelism, MCNN_SHARD_COUNT) set.
render() {
  sed -E "s/^( *[a-z]+: )\"?[0-9]+\"?( +# SHARDS)$/\1\"$SHARDS\"\2/; s/^( *(completions|parallelism): )\"([0-9]+)\"/\1\3/" "$1"
}

render "$here/sweep-indexed-job.yaml" | kubectl apply -f -
kubectl wait --for=condition=complete --timeout=24h job/mcnn-sweep
render "$here/sweep-merge-job.yaml" | kubectl apply -f -
kubectl wait --for=condition=complete --timeout=30m job/mcnn-sweep-merge
kubectl logs job/mcnn-sweep-merge
