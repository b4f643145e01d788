#!/usr/bin/env bash
# Writes the .env file docker-compose.yml reads its secrets from: a Redis password, and an API key per caller (the
# operator, the workers, the demo client) with the SHA-256 the broker is configured with instead of the key (compose
# cannot hash). New random values every time; mode 0600; .env is git-ignored.
#
#   scripts/compose-env.sh            # writes ./.env beside docker-compose.yml (refuses to overwrite it)
#   scripts/compose-env.sh --force    # replaces it: new secrets (rotate; then `docker compose up -d` again)
#   scripts/compose-env.sh PATH       # writes PATH instead
#
# Keys look like the broker's own (`tqk_` + 32 random bytes, base64url). Only coreutils are needed.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
force=false
target="$root/.env"
for arg in "$@"; do
  case "$arg" in
    --force) force=true ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) target="$arg" ;;
  esac
done

if [[ -e "$target" && "$force" != true ]]; then
  echo "$target exists; pass --force to replace its secrets." >&2
  exit 1
fi

random() { head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n'; }
hex() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
sha256() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }

redis_password="$(hex)"
operator_key="tqk_$(random)"
worker_key="tqk_$(random)"
client_key="tqk_$(random)"

umask 077
cat > "$target.tmp" <<ENV
# Secrets for docker-compose.yml, made by scripts/compose-env.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ). Keep this file private.
# Only the broker gets REDIS_PASSWORD (in its Redis connection string) and the *_SHA256 values; each caller its own key.
REDIS_PASSWORD=$redis_password
# The operator's key (submit, read, admin on every queue): for the CLI, e.g.
#   docker compose run --rm -e TaskQueue__ApiKey="\$(sed -n 's/^TASKQUEUE_OPERATOR_KEY=//p' .env)" client stats
TASKQUEUE_OPERATOR_KEY=$operator_key
TASKQUEUE_OPERATOR_KEY_SHA256=$(sha256 "$operator_key")
# The workers' key (consume on every queue).
TASKQUEUE_WORKER_KEY=$worker_key
TASKQUEUE_WORKER_KEY_SHA256=$(sha256 "$worker_key")
# The demo client's key (submit and read on every queue).
TASKQUEUE_CLIENT_KEY=$client_key
TASKQUEUE_CLIENT_KEY_SHA256=$(sha256 "$client_key")
ENV
mv "$target.tmp" "$target"
chmod 600 "$target"
echo "wrote $target"
