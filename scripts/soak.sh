#!/usr/bin/env bash
# The fault campaign's soak: workers SIGKILLed, workers frozen past their lease (zombies), brokers SIGKILLed and
# restarted, Redis frozen — mixed, under a steady load, on real processes — for as long as asked. Prints the
# ledger (README, "Fault campaign and soak") and exits non-zero if anything was lost or recorded twice.
#
#   scripts/soak.sh            # 30 minutes
#   scripts/soak.sh 10m        # 90s, 10m, 1h or 00:30:00
set -uo pipefail
cd "$(dirname "$0")/.."

duration="${1:-${TASKQUEUE_SOAK_DURATION:-30m}}"
report="${TASKQUEUE_FAULT_REPORT:-$(mktemp -t taskqueue-soak-XXXXXX.md)}"

dotnet build TaskQueue.Tests -v quiet -nologo || exit 1
echo "soak: $duration of mixed faults; the ledger goes to $report"
TASKQUEUE_SOAK_DURATION="$duration" TASKQUEUE_FAULT_REPORT="$report" \
  dotnet test TaskQueue.Tests --no-build --filter "FullyQualifiedName~TaskQueue.Tests.Faults.CampaignTests" \
  --logger "console;verbosity=normal"
status=$?

echo
echo "ledger ($report):"
cat "$report"
exit $status
