#!/usr/bin/env bash
# Makes sure the system programs the tests drive for real are present: OpenSSH's sshd, nginx and
# Debian's Chromium. Installs them with apt when missing and running as root; otherwise stops with
# one clear error naming the packages.
set -euo pipefail

missing=()
command -v sshd >/dev/null 2>&1 || [ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
[ -x "${SWITCHYARD_CHROMIUM:-/usr/bin/chromium}" ] || missing+=(chromium)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "error: the tests need these system packages, which are missing: ${missing[*]}" >&2
  echo "       install them (Debian/Ubuntu: sudo apt-get install -y ${missing[*]}) and run the tests again." >&2
  exit 1
fi

echo "installing system packages for the tests: ${missing[*]}"
# Keep the packages' services from starting: the tests start their own sshd and nginx.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"
  chmod +x "$policy"
  created_policy=1
fi
cleanup() { [ "$created_policy" -eq 1 ] && rm -f "$policy"; }
trap cleanup EXIT
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "installed: ${missing[*]}"
