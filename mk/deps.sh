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
  libxml2-utils                        # xmllint: gtrace --flamegraph tests (well-formed SVG)
  linux-perf                           # perf stat: gtrace --counters accuracy test
  curl wrk                             # HTTP examples: clients in tests
  redis-server redis-tools             # kv example: the reference server, redis-cli,
                                       # redis-benchmark (tests, comparison)
  nginx-light                          # HTTP comparison: the reference server
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

# redis-server and nginx are daemons: installing them starts a system
# service on the default ports (6379, 80) unless policy-rc.d forbids it.
# Tests and benchmarks start their own instances on free ports, so no
# service may start (Docker images already ship such a policy-rc.d).
policy=/usr/sbin/policy-rc.d
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\n# written by greenrt mk/deps.sh while installing packages\nexit 101\n' \
    | $SUDO tee "$policy" >/dev/null
  $SUDO chmod +x "$policy"
  trap '$SUDO rm -f "$policy"' EXIT
fi

$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

# An init that ignores policy-rc.d may have started them anyway: stop them
# and keep them from starting at boot.
for svc in redis-server nginx; do
  if command -v systemctl >/dev/null && systemctl is-active --quiet "$svc" 2>/dev/null; then
    $SUDO systemctl stop "$svc" && $SUDO systemctl disable --quiet "$svc" 2>/dev/null
    echo "deps: stopped the $svc service the package started"
  fi
done
echo "deps: done"
