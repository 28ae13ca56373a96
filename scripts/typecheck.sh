#!/usr/bin/env bash
# mypy over every package. The repository's folders install as one namespace (dimensions/ is
# vbench_lite.dimensions, and so on), a mapping mypy cannot read from an editable install, so the
# namespace is laid out as a tree of links under build/ and checked there.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
tree=build/typecheck
rm -rf "$tree"
mkdir -p "$tree/vbench_lite"
for entry in vbench_lite/*; do ln -s "$root/$entry" "$tree/vbench_lite/"; done
for package in dimensions prompts reference_models leaderboard; do ln -s "$root/$package" "$tree/vbench_lite/$package"; done
cd "$tree"
exec "${MYPY:-mypy}" --config-file "$root/pyproject.toml" -p vbench_lite "$@"
