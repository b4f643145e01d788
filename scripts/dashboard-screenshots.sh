#!/usr/bin/env bash
# Regenerates the dashboard screenshots of the README (docs/images/dashboard-*.png):
#   starts the AppHost (http launch profile: dashboard on http://127.0.0.1:18888, no login), lets the demo client
#   submit its 1,000 tasks, submits one task that fails once and is retried, photographs the dashboard with headless
#   Chromium (scripts/dashboard-screenshots/shoot.mjs, npm playwright-core), and stops the AppHost again.
#
#   scripts/dashboard-screenshots.sh                  # 2 workers (light on a 2-core machine)
#   scripts/dashboard-screenshots.sh --Workers=4      # any AppHost setting (README "Configuration") goes after
#
# Needs: the .NET SDK, Node.js >= 20 with npm, redis-server (or a container runtime). Installs Debian's `chromium`
# with apt-get and the npm dependency when they are missing. Exits non-zero, saying which step failed, on any failure.
# Environment: STARTUP_TIMEOUT_S (default 300: build, start-up, demo), STEP_TIMEOUT_S (default 120), OUT_DIR,
# CHROMIUM (default /usr/bin/chromium), KEEP_LOGS=1 (keep the AppHost's log after success).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
shots_dir="$repo_root/scripts/dashboard-screenshots"
startup_timeout="${STARTUP_TIMEOUT_S:-300}"
export STARTUP_TIMEOUT_S="$startup_timeout" STEP_TIMEOUT_S="${STEP_TIMEOUT_S:-120}"
export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
export OUT_DIR="${OUT_DIR:-$repo_root/docs/images}"
export REPO_ROOT="$repo_root"
export DASHBOARD_URL="http://127.0.0.1:18888" OTLP_URL="http://127.0.0.1:18889" BROKER_URL="http://localhost:5001"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

started=$SECONDS
say() { printf '[screenshots %4d s] %s\n' "$((SECONDS - started))" "$*"; }
fail() { printf '[screenshots %4d s] FAILED: %s\n' "$((SECONDS - started))" "$*" >&2; exit 1; }

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else fail "need root (or sudo) to run: $*"
  fi
}

# ---- prerequisites --------------------------------------------------------------------------------------------------
command -v dotnet >/dev/null || fail "dotnet is not on PATH (install the .NET SDK, see README)"
command -v node >/dev/null && command -v npm >/dev/null || fail "node and npm are not on PATH (Node.js >= 20 is needed)"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
(( node_major >= 20 )) || fail "Node.js $(node --version) is too old: playwright-core needs >= 20"

if [[ ! -x "$CHROMIUM" ]]; then
  say "installing Debian's chromium (apt-get)"
  as_root apt-get update -qq || fail "apt-get update failed"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null || fail "apt-get install chromium failed"
  [[ -x "$CHROMIUM" ]] || fail "chromium is installed but $CHROMIUM does not exist (set CHROMIUM=...)"
fi
say "chromium: $("$CHROMIUM" --version 2>/dev/null | head -n1)"

if [[ ! -f "$shots_dir/node_modules/playwright-core/package.json" ]]; then
  say "installing the npm dependency (playwright-core) in scripts/dashboard-screenshots"
  (cd "$shots_dir" && npm ci --no-audit --no-fund --loglevel=error) || fail "npm ci failed in $shots_dir"
fi

# ---- build and start the AppHost ------------------------------------------------------------------------------------
work="$(mktemp -d "${TMPDIR:-/tmp}/taskqueue-screenshots.XXXXXX")"
apphost_log="$work/apphost.log"
apphost_pid=""
apphost_child=""

stop_apphost() {
  [[ -n "$apphost_pid" ]] || return 0
  if kill -0 "$apphost_pid" 2>/dev/null; then
    say "stopping the AppHost (SIGTERM to process group $apphost_pid)"
    kill -TERM -- "-$apphost_pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$apphost_pid" 2>/dev/null || break; sleep 1; done
    if kill -0 "$apphost_pid" 2>/dev/null; then
      say "the AppHost did not stop within 60 s: SIGKILL to its process group"
      kill -KILL -- "-$apphost_pid" 2>/dev/null || true
    fi
  fi
  wait "$apphost_pid" 2>/dev/null || true
  # DCP (Aspire's orchestrator) runs in a session of its own; it stops the services and Redis within about 30 s of the
  # AppHost going. Wait for the processes of this run: DCP watching this AppHost, this run's Redis, this worktree's
  # services. Whatever is still there after 90 s gets a SIGTERM of its own.
  local left="" pattern="$work/redis|$repo_root/TaskQueue\.(Broker|Worker|Cli)/bin/"
  [[ -n "$apphost_child" ]] && pattern+="|--monitor $apphost_child( |\$)"
  for _ in $(seq 1 90); do
    left="$(pgrep -f -- "$pattern" 2>/dev/null | tr '\n' ' ' || true)"
    [[ -z "$left" ]] && break
    sleep 1
  done
  if [[ -n "$left" ]]; then
    say "processes of this run still running after 90 s: $left; sending SIGTERM"
    kill -TERM $left 2>/dev/null || true
  else
    say "the AppHost, DCP, the services and Redis have stopped"
  fi
  apphost_pid=""
}

on_exit() {
  local status=$?
  stop_apphost
  if [[ $status -ne 0 && -s "$apphost_log" ]]; then
    echo "---- last lines of the AppHost's log ($apphost_log) ----" >&2
    tail -n 40 "$apphost_log" >&2
  elif [[ $status -eq 0 && -z "${KEEP_LOGS:-}" ]]; then
    rm -rf "$work"
  fi
  exit "$status"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

cd "$repo_root"
say "building the AppHost and the services (dotnet build TaskQueue.AppHost)"
dotnet build TaskQueue.AppHost -nologo -v q -clp:ErrorsOnly >"$work/build.log" 2>&1 \
  || { tail -n 30 "$work/build.log" >&2; fail "dotnet build TaskQueue.AppHost failed (log: $work/build.log)"; }

# The http launch profile and the broker use fixed ports: another AppHost (or anything else) on them would answer instead.
busy=""
for port in 18888 18889 18890 5000 5001; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then busy+=" $port"; fi
done
[[ -z "$busy" ]] || fail "port(s)$busy on 127.0.0.1 are in use: stop the other AppHost (or whatever listens there) first"

# A Redis of its own under $work (when Redis runs as a process): each run starts from an empty queue.
apphost_args=(--Workers=2 "--Redis:DataDirectory=$work/redis" "$@")
say "starting the AppHost: dotnet run --project TaskQueue.AppHost --launch-profile http -- ${apphost_args[*]}"
setsid dotnet run --project TaskQueue.AppHost --no-build --launch-profile http -- "${apphost_args[@]}" \
  >"$apphost_log" 2>&1 </dev/null &
apphost_pid=$!
[[ "$(ps -o pgid= -p "$apphost_pid" | tr -d ' ')" == "$apphost_pid" ]] || fail "the AppHost did not get a process group of its own"

deadline=$((SECONDS + startup_timeout))
until curl -fsS -o /dev/null --max-time 5 "$DASHBOARD_URL/" 2>/dev/null; do
  kill -0 "$apphost_pid" 2>/dev/null || fail "the AppHost exited before the dashboard answered"
  (( SECONDS < deadline )) || fail "the dashboard did not answer at $DASHBOARD_URL within $startup_timeout s"
  say "waiting for the dashboard... ($(grep -v '^\s*$' "$apphost_log" | tail -n1 | cut -c1-100))"
  sleep 5
done
apphost_child="$(pgrep -P "$apphost_pid" | head -n1 || true)"
# Is it this AppHost's dashboard? Its telemetry API lists the resources it knows (JSON).
resources="$(curl -fsS --max-time 10 "$DASHBOARD_URL/api/telemetry/resources" 2>/dev/null || true)"
[[ "$resources" == \[* ]] \
  || fail "what answers at $DASHBOARD_URL is not this AppHost's dashboard (no telemetry API): is another one running?"
say "the dashboard answers at $DASHBOARD_URL"

# ---- the pictures ---------------------------------------------------------------------------------------------------
node "$shots_dir/shoot.mjs" || fail "taking the screenshots failed (see above)"

stop_apphost
say "done: $(ls "$OUT_DIR"/dashboard-*.png | wc -l) pictures in ${OUT_DIR#"$repo_root"/}"
