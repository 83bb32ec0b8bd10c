#!/usr/bin/env bash
# Create the peer virtual environments for `make bench-peers`.
#
#   benchmarks/peers/setup.sh [rejax|brax|all]     (default: all)
#
# rejax -> .venv-peers/rejax  (rejax 0.1.3 + gymnax 0.0.9 on jax 0.10.2)
# brax  -> .venv-peers/brax   (brax 0.14.2 + mujoco-mjx 3.17.0 on jax 0.7.2: Brax's trainers need jax < 0.8)
#
# Each venv is made with `python3 -m venv` and gets `pip install -r pins/<name>.txt -c pins/<name>.lock.txt`,
# logged to .venv-peers/<name>/install.log. A stamp file (.venv-peers/<name>/.peers-stamp) holds a hash
# of the two pin files and is written only after the install and an import check succeed; a later run
# with the same pins does nothing. Prints one line per venv. Exits non-zero, naming the log, on error.
#
# Environment: PYTHON (default python3), PEERS_VENV_ROOT (default <repo>/.venv-peers).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv_root="${PEERS_VENV_ROOT:-$repo/.venv-peers}"
python="${PYTHON:-python3}"
pins="$here/pins"

die() { echo "setup.sh: $*" >&2; exit 1; }

# Python modules imported, and distributions whose versions are printed, after installing each venv.
check_rejax='import jax, gymnax, rejax, distrax, flax, optax; from rejax import SAC; from importlib.metadata import version as v; assert v("gymnax") == "0.0.9", v("gymnax")'
check_brax='import jax, brax, mujoco, mujoco.mjx; from brax.training.agents.sac import train; from brax import envs; assert jax.__version__ == "0.7.2", jax.__version__'
show_rejax='rejax jax gymnax'
show_brax='brax jax mujoco-mjx'

pin_hash() {
  cat "$pins/$1.txt" "$pins/$1.lock.txt" | sha256sum | cut -d' ' -f1
}

versions() {  # name venv -> "rejax 0.1.3, jax 0.10.2, ..."
  local var="show_$1" out="" d v
  for d in ${!var}; do
    v="$("$2/bin/python" -c "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))" "$d" 2>/dev/null || echo '?')"
    out="${out:+$out, }$d $v"
  done
  echo "$out"
}

setup_one() {
  local name="$1" venv="$venv_root/$1" log stamp want check_var
  log="$venv/install.log"
  stamp="$venv/.peers-stamp"
  want="$(pin_hash "$name")"
  check_var="check_$name"

  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -x "$venv/bin/python" ]] \
      && "$venv/bin/python" -c "${!check_var}" >/dev/null 2>&1; then
    echo "$name: up to date  $venv  ($(versions "$name" "$venv"))"
    return 0
  fi

  rm -f "$stamp"
  # A venv whose interpreter no longer runs (moved, or its base python changed) is rebuilt from scratch.
  if [[ -d "$venv" ]] && ! "$venv/bin/python" -c "" >/dev/null 2>&1; then
    rm -rf "$venv"
  fi
  if [[ ! -x "$venv/bin/python" ]]; then
    mkdir -p "$venv_root"
    "$python" -m venv "$venv" || die "$name: '$python -m venv $venv' failed"
  fi

  {
    echo "=== $(date -u +%Y-%m-%dT%H:%M:%SZ) setup.sh $name: pip install -r pins/$name.txt -c pins/$name.lock.txt"
  } >>"$log"
  if ! "$venv/bin/python" -m pip install --disable-pip-version-check --no-input \
      -r "$pins/$name.txt" -c "$pins/$name.lock.txt" >>"$log" 2>&1; then
    echo "setup.sh: $name: pip install failed; last lines of $log:" >&2
    grep -v "^WARNING: Location" "$log" | tail -n 15 >&2
    exit 1
  fi
  echo "=== import check" >>"$log"
  if ! "$venv/bin/python" -c "${!check_var}" >>"$log" 2>&1; then
    echo "setup.sh: $name: installed, but the import check failed; last lines of $log:" >&2
    grep -v "^WARNING: Location" "$log" | tail -n 15 >&2
    exit 1
  fi
  echo "$want" >"$stamp"
  echo "$name: installed   $venv  ($(versions "$name" "$venv"))"
}

target="${1:-all}"
case "$target" in
  rejax|brax) names=("$target") ;;
  all) names=(rejax brax) ;;
  -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) die "unknown peer '$target'; use rejax, brax or all" ;;
esac
[[ $# -le 1 ]] || die "takes one argument: rejax, brax or all"
command -v "$python" >/dev/null 2>&1 || die "no '$python' on PATH (set PYTHON=...)"
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
  || die "$python is $("$python" -V 2>&1); the peers need Python >= 3.10"

for n in "${names[@]}"; do
  setup_one "$n"
done
