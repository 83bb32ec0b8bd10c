#!/usr/bin/env bash
# One prepared command for a lent GPU machine (issue 22's device checks), at most BUDGET_S seconds:
#   1. lapack.txt: does this jaxlib still deadlock XLA:CPU with its LAPACK batch fan-out (the Ant hang)?
#   2. kill-resume.json: a SIGKILL-and-resume round trip of SAC on brax:hopper on the GPU, bit for bit;
#   3. pytest.log / junit.xml: `make test`'s suite (pytest -m "not slow") on the GPU machine's jax.
# The packages the GPU image lacks travel as ONE xz tarball of an installed site folder (wheels compress
# too little to fit the 64 MiB tree beside W&B): build it here with
#   bash benchmarks/device/gpu_site.sh        (writes .whl-site/gpusite.tar.xz, ignored by git)
# and carry [".whl-site"]. Usage (from the project root, on the device):  bash benchmarks/device/gpu_checks.sh
set -uo pipefail
OUT="${OUT:-reports/device}"
BUDGET_S="${BUDGET_S:-520}"
mkdir -p "$OUT"
t0=$(date +%s)
deadline=$(( t0 + BUDGET_S ))
tar -xJf .whl-site/gpusite.tar.xz -C /tmp || exit 1
export PYTHONPATH="/tmp/gpusite:$PWD" XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONUNBUFFERED=1 WANDB_MODE=offline
{ nvidia-smi; nproc; python3 -c "import jax, jaxlib, brax, mujoco, wandb, rliable, hypothesis
print('jax', jax.__version__, 'jaxlib', jaxlib.__version__, jax.devices())"; } > "$OUT/env.txt" 2>&1
tail -2 "$OUT/env.txt"
echo "set-up took $(( $(date +%s) - t0 )) s"

timeout 40 python3 benchmarks/device/lapack_fanout_check.py 10 > "$OUT/lapack.txt" 2>&1
echo "exit $? (124: hung, the fan-out deadlock)" >> "$OUT/lapack.txt"
tail -2 "$OUT/lapack.txt"

timeout 240 python3 benchmarks/device/kill_resume.py --json="$OUT/kill-resume.json" --env=brax:hopper --seeds=4 \
  --num_envs=64 > "$OUT/kill-resume.log" 2>&1
echo "kill-resume exit $? after $(( $(date +%s) - t0 )) s"
tail -1 "$OUT/kill-resume.log"

left=$(( deadline - $(date +%s) - 10 ))
echo "pytest gets ${left} s"
timeout "$left" python3 -m pytest -m "not slow" -q -n 14 -p no:cacheprovider --timeout=300 -rfE \
  --junitxml="$OUT/junit.xml" > "$OUT/pytest.log" 2>&1
echo "pytest exit $? after $(( $(date +%s) - t0 )) s"
grep -E "passed|failed|error" "$OUT/pytest.log" | tail -3
grep -E "^(FAILED|ERROR)" "$OUT/pytest.log" | head -40
