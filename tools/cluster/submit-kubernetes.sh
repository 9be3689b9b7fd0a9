#!/bin/bash
# Runs the sweep as an Indexed Job (sweep-indexed-job.yaml), waits for every index to
# succeed, then runs the merge (sweep-merge-job.yaml) and prints its report. If an index
# fails for good the first wait runs into its timeout: see kubectl describe job/mcnn-sweep.
# To run again, first kubectl delete job mcnn-sweep mcnn-sweep-merge (the volume, with its
# parts, stays: the new pods resume them).
set -euo pipefail
here=$(dirname "$0")

kubectl apply -f "$here/sweep-indexed-job.yaml"
kubectl wait --for=condition=complete --timeout=24h job/mcnn-sweep
kubectl apply -f "$here/sweep-merge-job.yaml"
kubectl wait --for=condition=complete --timeout=30m job/mcnn-sweep-merge
kubectl logs job/mcnn-sweep-merge
