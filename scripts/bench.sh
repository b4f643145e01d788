#!/usr/bin/env bash
# Builds the broker, the worker and the benchmarks in Release, then runs the whole-system benchmark:
#   scripts/bench.sh                 # the full run (about 10 minutes on 2 cores)
#   scripts/bench.sh --quick         # a minute or two
#   scripts/bench.sh --publish ...   # also writes docs/bench/latest.json (the figures the README shows)
# Any other argument goes to `TaskQueue.Benchmarks system` (see `--help`). Figures land in bench-results/.
# Security is on, as deployed: the brokers it starts know a key for the benchmark's clients (submit, read, admin) and
# one for the workers (consume) by their SHA-256, and every gRPC call carries `Authorization: Bearer`. Attached to a
# broker of your own (--broker), it sends the key in TaskQueue__ApiKey (scopes submit, read, admin and consume).
set -euo pipefail
cd "$(dirname "$0")/.."

args=()
for arg in "$@"; do
  if [ "$arg" = "--publish" ]; then
    args+=(--json docs/bench/latest.json)
  else
    args+=("$arg")
  fi
done

for project in TaskQueue.Broker TaskQueue.WorkerService TaskQueue.Benchmarks; do
  dotnet build -c Release "$project" -nologo -v q -clp:ErrorsOnly
done

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
exec dotnet TaskQueue.Benchmarks/bin/Release/net10.0/TaskQueue.Benchmarks.dll system "${args[@]}"
