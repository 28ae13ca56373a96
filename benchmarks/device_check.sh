#!/usr/bin/env bash
# The prepared GPU check: one command, under 8 minutes on one H100/H200, printing one table.
#   1. benchmarks/vs_vbench.py on the device for every dimension, random weights: VBench's and our
#      seconds, the ratio, the largest per-video difference, the kernel routes;
#   2. benchmarks/generate_speed.py --preset contentv-8b --dtype bf16, 49 frames at 432x768, 50 steps:
#      seconds per video and peak GPU memory;
#   3. the fidelity tests (our side on the device: VBL_DEVICE).
# It installs nothing beyond the project and its extras: on a machine without a registry, carry the
# wheels in .whl/ (see `benchmarks/device_wheels.sh`) and they are installed offline first.
#
#   bash benchmarks/device_check.sh                      # on the GPU machine
#   bash benchmarks/device_check.sh --device cpu --tiny  # the rehearsal on a CPU (a few minutes)
set -uo pipefail
cd "$(dirname "$0")/.."
device=cuda
tiny=0
while [ $# -gt 0 ]; do
  case "$1" in
    --device) device=$2; shift 2 ;;
    --tiny) tiny=1; shift ;;
    *) echo "usage: $0 [--device cuda|cpu] [--tiny]" >&2; exit 2 ;;
  esac
done
python=${PYTHON:-python3}
[ -x .venv/bin/python ] && [ -z "${PYTHON:-}" ] && python=.venv/bin/python
if [ -d .whl ]; then
  "$python" -m pip install -q --no-index --no-deps .whl/*.whl || exit 1
  "$python" -m pip install -q --no-index --no-deps --no-build-isolation -e . || exit 1
fi
out=${OUT:-$(mktemp -d)}
log() { echo "== $*" >&2; }
started=$(date +%s)

if [ "$tiny" = 1 ]; then
  compare=(--clips 1 --frames 4 --size 128x96 --threads 2)  # RAFT needs 128 px: its pyramid halves 3 times
  generate=(--preset tiny --frames 5 --height 32 --width 32 --steps 2 --videos 1 --skip-peers)
  tests=(-m "fidelity and not slow")
else
  compare=(--clips 2 --frames 16 --threads 16)
  generate=(--preset contentv-8b --dtype bf16 --frames 49 --height 432 --width 768 --steps 50 --videos 1
            --skip-peers)
  tests=(-m fidelity)
fi

log "1/3 vs_vbench on $device"
"$python" benchmarks/vs_vbench.py --device "$device" "${compare[@]}" > "$out/vs_vbench.txt" 2>"$out/vs_vbench.err"
compare_status=$?
log "2/3 generation speed on $device"
"$python" benchmarks/generate_speed.py --device "$device" "${generate[@]}" > "$out/generate.txt" 2>"$out/generate.err"
generate_status=$?
log "3/3 fidelity tests with VBL_DEVICE=$device"
VBL_DEVICE=$device "$python" -m pytest -q -p no:cacheprovider "${tests[@]}" tests > "$out/fidelity.txt" 2>&1
tests_status=$?

echo
echo "device check on $device ($( [ "$tiny" = 1 ] && echo tiny || echo full ) sizes), $(( $(date +%s) - started )) s; logs in $out"
echo
echo "| part | status | result |"
echo "|---|---|---|"
echo "| vs_vbench | $compare_status | $(grep -E '^total' "$out/vs_vbench.txt" | tr -s ' ' | head -1) |"
echo "| generation | $generate_status | $(grep -E '^total|^peak' "$out/generate.txt" | tr -s ' ' | tr '\n' ';' | head -c 300) |"
echo "| fidelity tests | $tests_status | $(tail -n 1 "$out/fidelity.txt") |"
echo
sed -n '/^dimension/,/^kernel routes/p' "$out/vs_vbench.txt"
[ "$compare_status" = 0 ] && [ "$generate_status" = 0 ] && [ "$tests_status" = 0 ]
