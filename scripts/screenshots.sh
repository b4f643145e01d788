#!/usr/bin/env bash
# Regenerates the operator dashboard's screenshots in docs/images/ (the README shows them): runs the dashboard's browser tests
# (real Redis, broker, worker and dashboard processes, headless Chromium), whose screenshot scenario saves a PNG of
# every page to TQ_SCREENSHOTS_DIR. Set TQ_DASHBOARD_BIG_QUEUE=1000000 for the README's list-page figure (slower setup).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d TaskQueue.Tests/Dashboard/browser/node_modules/playwright-core ]; then
  (cd TaskQueue.Tests/Dashboard/browser && npm ci --no-audit --no-fund)
fi
dotnet build TaskQueue.Tests -nologo -v q -clp:ErrorsOnly
TQ_SCREENSHOTS_DIR="$PWD/docs/images" dotnet test TaskQueue.Tests --no-build --filter "FullyQualifiedName~TaskQueue.Tests.Dashboard" --logger "console;verbosity=normal" \
  | grep -E "Passed!|Failed|dashboard list page" || true
ls -1 docs/images/operator-*.png
