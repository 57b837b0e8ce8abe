#!/usr/bin/env bash
# Installs the database servers the tests start on loopback (internal/testdb):
# PostgreSQL and MariaDB from Debian's packages. Idempotent: a server whose binary is
# already there is not installed again, and nothing at all is done (not even
# `apt-get update`) when both are present.
#
# Runs non-interactively as root on a fresh Debian 12 (or later). The packages'
# maintainer scripts are kept from starting system services (policy-rc.d): the test
# harness starts its own servers in temporary directories, on free ports.
set -euo pipefail

have_postgres() {
  compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null &&
    compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
}

have_mariadb() {
  local d
  for d in mariadbd mysqld; do
    if command -v "$d" >/dev/null 2>&1 || [[ -x "/usr/sbin/$d" ]]; then
      return 0
    fi
  done
  return 1
}

missing=()
have_postgres || missing+=(postgresql)
have_mariadb || missing+=(mariadb-server)

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "test databases: PostgreSQL and MariaDB are installed"
  exit 0
fi

if [[ "$(id -u)" -ne 0 ]]; then
  echo "test databases: missing ${missing[*]}; run this script as root (or: sudo $0)" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "test databases: missing ${missing[*]} and apt-get is not available; install them with your package manager" >&2
  exit 1
fi

echo "test databases: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive

# Keep invoke-rc.d from starting the packages' services (exit 101: action forbidden).
# Only a policy-rc.d this script created is removed again.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [[ ! -e "$policy" ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  created_policy=1
fi
cleanup() {
  if [[ $created_policy -eq 1 ]]; then
    rm -f "$policy"
  fi
}
trap cleanup EXIT

apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
  "${missing[@]}" >/dev/null

have_postgres || { echo "test databases: postgresql installed but /usr/lib/postgresql/*/bin/postgres is missing" >&2; exit 1; }
have_mariadb || { echo "test databases: mariadb-server installed but mariadbd is missing" >&2; exit 1; }
echo "test databases: installed ${missing[*]}"
