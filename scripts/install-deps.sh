#!/usr/bin/env bash
# Installs everything r1 needs to build and test on Debian 12. Idempotent; run as root (or with sudo).
# --reference also installs what tools/reference and bench/ need (PyTorch, Jinja2, and OpenBLAS: without
# it Debian's torch multiplies matrices with the reference BLAS, about 4x slower); tests do not.
set -euo pipefail
pkgs=(build-essential cmake ninja-build pkg-config git nlohmann-json3-dev libpcre2-dev libgtest-dev
  libgmock-dev libcpp-httplib-dev libjs-marked libjs-katex chromium)
if [[ "${1:-}" == "--reference" ]]; then pkgs+=(python3-torch python3-jinja2 python3-numpy libopenblas0-pthread); fi
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# The clients the server tests drive (tests/server/js: the official OpenAI SDK, puppeteer-core for
# the headless browser), from npm at the versions package-lock.json pins. Node.js from Debian
# unless the machine already has one.
if ! command -v npm >/dev/null; then
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends nodejs npm
fi
cd "$(dirname "$0")/.."
npm ci --prefix tests/server/js --no-audit --no-fund --loglevel=error
