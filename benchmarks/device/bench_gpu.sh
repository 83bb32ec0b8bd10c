#!/usr/bin/env bash
# One prepared command for a lent GPU machine (the device tool, at most 10 minutes a command): installs
# the wheels that ../shared/gpu/wheels.sh fetched into .whl (carried with the tree), then runs
# `python -m softrl_jax.bench_gpu` inside BUDGET_S seconds (default 420) and the per-step HLO count of
# the training chunk at 4096 envs. Everything lands in $OUT (default reports/device):
#   bench-gpu.json (written as each part ends), bench-gpu.log, hlo-4096.json, nvidia-smi.txt, env.txt
# Usage (from the project root, on the device):  bash benchmarks/device/bench_gpu.sh
set -uo pipefail
OUT="${OUT:-reports/device}"
BUDGET_S="${BUDGET_S:-420}"
mkdir -p "$OUT"
t0=$(date +%s)
nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1 || true
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    > "$OUT/pip.log" 2>&1 || { tail -20 "$OUT/pip.log"; exit 1; }
  export PYTHONPATH="/tmp/site:$PWD"
fi
python3 -c "import jax, brax, mujoco; print('jax', jax.__version__, jax.devices())" > "$OUT/env.txt" 2>&1
cat "$OUT/env.txt"
echo "set-up took $(( $(date +%s) - t0 )) s"
timeout $(( BUDGET_S + 60 )) python3 -m softrl_jax.bench_gpu --json="$OUT/bench-gpu.json" --out=/tmp/gpu-runs \
  --budget_s="$BUDGET_S" > "$OUT/bench-gpu.log" 2>&1
echo "bench-gpu exit $? after $(( $(date +%s) - t0 )) s"
grep -v -i "warn" "$OUT/bench-gpu.log" | tail -30
timeout 90 python3 benchmarks/hlo_stats.py --env=brax:hopper --num_envs=4096 --json="$OUT/hlo-4096.json" \
  > "$OUT/hlo-4096.log" 2>&1
echo "hlo_stats exit $? after $(( $(date +%s) - t0 )) s"
tail -15 "$OUT/hlo-4096.log"
