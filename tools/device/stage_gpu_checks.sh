#!/usr/bin/env bash
# Builds (release, --features wgpu) and packs into artifacts/device/ what tools/device/gpu_checks.sh runs on a
# GPU machine that has no Rust toolchain: four test binaries, the fan-in and sampled-conv benches, the E1
# example, and MNIST (about 45 MB compressed: each binary holds all of Burn's kernels). Run from the repository root; MNIST must be in ./data (any example fetches it).
set -euo pipefail
T=${CARGO_TARGET_DIR:-target}
cargo build --release --features wgpu --example partition_dropout_variance
# Cargo's JSON messages on stdin -> "package_target path" for each executable of target kind $1.
executables() {
  python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == [sys.argv[1]]:
        print(m["package_id"].split("#")[0].split("/")[-1] + "_" + m["target"]["name"], m["executable"])
' "$1"
}
# One feature set for all three builds (the workspace with `wgpu`), so Burn is built once.
tests=$(cargo test --release --workspace --features wgpu --no-run --message-format=json | executables test)
benches=$(cargo bench --workspace --features wgpu --bench fan_in --bench sampled_conv --no-run \
  --message-format=json | executables bench)
rm -rf artifacts/device/stage && mkdir -p artifacts/device/stage
while read -r name exe; do
  case $name in fan-in_gpu_vs_cpu|partition-dropout_layer|sampled-linear_layer|sampled-conv_layer)
    cp "$exe" "artifacts/device/stage/$(echo "${name/fan-in/fan_in}" | tr - _)";; esac
done <<< "$tests"
while read -r name exe; do
  cp "$exe" "artifacts/device/stage/${name#*_}_bench"
done <<< "$benches"
cp "$T/release/examples/partition_dropout_variance" artifacts/device/stage/
strip artifacts/device/stage/*
tar -cf - -C artifacts/device/stage . | xz -9 -T2 > artifacts/device/bins.tar.xz
tar -cJf artifacts/device/mnist.tar.xz data/mnist
ls -la artifacts/device
