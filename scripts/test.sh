#!/usr/bin/env bash
# The one test command (README and .ci/run): install exactly what package-lock.json says, build, run every spec.
set -euo pipefail
cd "$(dirname "$0")/.."
npm ci --no-audit --no-fund
npx jest --ci
