#!/usr/bin/env bash
# Proves that the plugins compile with Candle's `cuda` feature on a machine
# without a GPU (run by hand, not in CI: it installs a CUDA toolkit and
# compiles Candle's kernels, ~12 minutes on one core).
#
# Debian 12: the toolkit is nvidia-cuda-toolkit 11.8 from `non-free`; its
# nvcc does not accept gcc 12 without -allow-unsupported-compiler. Kernels
# are built for compute capability 8.0 (A100) unless CUDA_COMPUTE_CAP says
# otherwise; sm_90 (H100) needs CUDA ≥ 12, i.e. NVIDIA's own packages.
#
#   scripts/check-cuda-build.sh            # install (if needed) and build
#   CUDA_COMPUTE_CAP=86 scripts/check-cuda-build.sh
#
# The build goes to target/cuda, so the CPU build in target/ is untouched.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v nvcc >/dev/null; then
    if [ "$(id -u)" != 0 ]; then
        echo "nvcc not found: install a CUDA toolkit, or run this as root to install Debian's" >&2
        exit 1
    fi
    echo "== installing Debian's nvidia-cuda-toolkit (non-free)"
    for sources in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
        [ -f "$sources" ] && sed -i -E 's/^(Components: main)$/\1 contrib non-free non-free-firmware/' "$sources"
    done
    apt-get update -q
    # Without recommends: with them, apt also installed the NVIDIA kernel
    # driver and spent minutes building its DKMS module, which a build that
    # only compiles kernels does not need.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        nvidia-cuda-toolkit libcu++-dev g++-12
fi
nvcc --version | tail -2

export CUDA_COMPUTE_CAP="${CUDA_COMPUTE_CAP:-80}"
# Appended to every nvcc command line (nvcc ≥ 11.5 reads this variable).
export NVCC_APPEND_FLAGS="${NVCC_APPEND_FLAGS:--ccbin g++-12 -allow-unsupported-compiler}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/cuda}"

echo "== cargo build --release --features cuda (compute capability $CUDA_COMPUTE_CAP)"
time cargo build --release \
    -p agon-lstm-generator --features agon-lstm-generator/cuda \
    -p agon-cnn-discriminator --features agon-cnn-discriminator/cuda \
    -p agon-gru-discriminator --features agon-gru-discriminator/cuda \
    -p agon-lstm-discriminator --features agon-lstm-discriminator/cuda \
    -p agon-seq2seq-generator --features agon-seq2seq-generator/cuda \
    -p agon-pair-discriminators --features agon-pair-discriminators/cuda \
    -p agon-relgan --features agon-relgan/cuda \
    -p agon
echo "== built: $(ls "$CARGO_TARGET_DIR"/release/*.so | tr '\n' ' ')"
echo "The CUDA plugins list the cuda device:"
AGON_PLUGIN_PATH="$CARGO_TARGET_DIR/release" "$CARGO_TARGET_DIR/release/agon" plugins list \
    | grep -E 'devices|lstm|cnn|gru|seq2seq|pair|relgan' || true
