#!/usr/bin/env bash
# `npm test`: everything, in the order that fails fastest. System packages first (sshd, nginx,
# Chromium), then static checks, then vitest (unit + integration against real Postgres, SSH,
# nginx), then Playwright in Debian's Chromium against a full stack.
set -euo pipefail
cd "$(dirname "$0")/.."
export NEXT_TELEMETRY_DISABLED=1

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "system packages"
bash scripts/ensure-system-deps.sh
step "driver patches"
node scripts/patch-postgres.mjs
step "typecheck"
npx tsc --noEmit -p .
step "lint"
npx biome check .
step "unit and integration tests (vitest)"
npx vitest run
step "end-to-end tests (Playwright, Chromium)"
npx playwright test
