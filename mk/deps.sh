#!/usr/bin/env bash
# Installs the Debian packages greenrt needs when any is missing.
# A quick no-op (one dpkg-query) when everything is present.
set -euo pipefail

required=(
  build-essential pkg-config
  liburing-dev                         # runtime: io_uring
  libbpf-dev bpftool clang llvm        # gtrace: CO-RE skeletons
  libelf-dev zlib1g-dev
  libcmocka-dev                        # unit tests
  systemtap-sdt-dev                    # USDT probes (<sys/sdt.h>)
  libjansson-dev                       # gtrace reads JSON back (diff)
  gnuplot-nox                          # bench: SVG charts in the report
  curl wrk                             # HTTP examples: clients in tests
  golang-go libst-dev                  # bench: the Go and State Threads peers
  mandoc                               # man pages: lint (make test)
  procps psmisc iproute2
)

missing=()
for p in "${required[@]}"; do
  [[ $p == \#* ]] && continue
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "deps: installing ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
  SUDO=sudo
  command -v sudo >/dev/null || { echo "deps: need root (or sudo) to apt-get install ${missing[*]}" >&2; exit 1; }
else
  SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: done"
