#!/usr/bin/env bash
# Installs every build, test and runtime dependency of ragline from Debian's packages.
# Idempotent: packages already present are left alone, and apt is not touched at all when
# nothing is missing.
set -euo pipefail

packages=(
  build-essential cmake pkg-config ninja-build
  libfaiss-dev libopenblas-dev libomp-dev
  libsqlite3-dev sqlite3
  libicu-dev
  libcurl4-openssl-dev libssl-dev
  zlib1g-dev
  nlohmann-json3-dev
  libstemmer-dev
  libpoppler-cpp-dev
  libgumbo-dev
  libcli11-dev
  libgtest-dev libgmock-dev
  clang libclang-rt-14-dev
  python3 python3-pip
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  sudo_cmd=(sudo)
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
