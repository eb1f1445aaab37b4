#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine (this project's kind: 2 cores, no GPU) for Pixel-LLM:
# Debian's Chromium (WebGPU on SwiftShader, for the UI and its tests), Mesa 25 from
# bookworm-backports (Vulkan lavapipe, so WebGPU runs in Node on the CPU), Xvfb, then npm ci.
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

mesa_ok() {
  local v
  v=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true)
  [ -n "$v" ] && dpkg --compare-versions "$v" ge 25
}

if command -v apt-get >/dev/null 2>&1; then
  if ! command -v chromium >/dev/null 2>&1 || ! mesa_ok || ! command -v xvfb-run >/dev/null 2>&1; then
    echo "bootstrap: installing chromium, mesa-vulkan-drivers (bookworm-backports) and xvfb"
    if grep -q bookworm /etc/os-release 2>/dev/null && [ ! -f /etc/apt/sources.list.d/backports.list ]; then
      echo 'deb http://deb.debian.org/debian bookworm-backports main' | $SUDO tee /etc/apt/sources.list.d/backports.list >/dev/null
    fi
    $SUDO apt-get update -q
    if grep -q bookworm /etc/os-release 2>/dev/null; then
      $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q -t bookworm-backports mesa-vulkan-drivers
    else
      $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q mesa-vulkan-drivers
    fi
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium xvfb
  fi
else
  echo "bootstrap: apt-get not found; install Chromium and a Vulkan driver yourself" >&2
fi

# The Electron binary is downloaded from outside at first use; that cannot happen offline, and
# nothing here needs it (electron-vite builds without it).
export ELECTRON_SKIP_BINARY_DOWNLOAD=1
npm ci --no-audit --no-fund

# llama.cpp through node-llama-cpp, the offline reference for parity tests: a lean install (the
# CPU binary only; a plain install pulls 730 MB of CUDA/Vulkan builds), no install scripts.
npm ci --prefix tests/llama-cpp --omit=optional --ignore-scripts --no-audit --no-fund
