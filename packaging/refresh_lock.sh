#!/usr/bin/env bash
# Refresh constraints.txt, the lock every set-up installs through (`pip install -c constraints.txt …`).
# It pins every distribution the app and all its extras (test, cluster, map, packaging) install, for
# Linux, Windows and macOS at once (`--universal` writes environment markers where they differ).
# Run it when pyproject.toml's dependencies change or to take newer releases on purpose, then run
# the whole test suite (README's test command) before committing the new lock.
set -euo pipefail
cd "$(dirname "$0")/.."

uv=${UV:-uv}
if ! command -v "$uv" >/dev/null; then
    echo "refresh_lock: needs uv (pip install uv), or UV=/path/to/uv" >&2
    exit 1
fi

# torch and torchvision stay on the pair the suite is tested with (pyproject's upper bounds).
"$uv" pip compile pyproject.toml \
    --all-extras \
    --universal \
    --python-version 3.11 \
    --index-strategy unsafe-best-match \
    --no-header \
    --annotation-style line \
    "$@" \
    -o constraints.txt
{
    echo "# The lock: every distribution Latent Studio and its extras install, pinned."
    echo "# Install through it: pip install -c constraints.txt -e '.[test]'. Refresh: packaging/refresh_lock.sh"
    cat constraints.txt
} > constraints.txt.new
mv constraints.txt.new constraints.txt
echo "refresh_lock: wrote constraints.txt ($(grep -c '==' constraints.txt) pins)"
