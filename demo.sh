#!/usr/bin/env bash
# The main job of toe: build, set up the lab, run the demo on AF_XDP and drive
# it with kernel clients beside the kernel stack.
set -euo pipefail
cd "$(dirname "$0")"
./setup.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)"
echo "demo.sh: the AF_XDP port, the lab and the demo servers are not built yet;" >&2
echo "demo.sh: the build above is all the main job does today." >&2
exit 2
