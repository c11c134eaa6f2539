#!/usr/bin/env bash
# make demo: the quickstart against the local Kibana Fleet API, with a throwaway Pulumi backend;
# without a pulumi CLI on PATH, through the project's harness instead (tests/harness/demo.py).
set -euo pipefail
cd "$(dirname "$0")/.."

# Looked up on the PATH make demo was given, before .venv/bin goes in front of it.
cli=$(command -v pulumi 2>/dev/null || true)

# The CLI runs with .venv activated: the root Pulumi.yaml sets no `virtualenv` (a relative one
# resolves against the project root for the program but against examples/quickstart, its `main`,
# for the dynamic-provider host: pulumi/pulumi#7061), so both use PULUMI_PYTHON_CMD.
venv="$PWD/.venv"
export VIRTUAL_ENV="$venv" PATH="$venv/bin:$PATH" PULUMI_PYTHON_CMD="$venv/bin/python"
unset PYTHONHOME

if [ -z "$cli" ]; then
  # No CLI: the same quickstart through the engine-faithful harness (tests/harness/demo.py), in
  # the same environment. It prints a one-line notice, starts and stops its own emulator, and
  # stops every provider host it starts; exec, so a Ctrl-C or kill reaches it directly.
  exec "$venv/bin/python" -m tests.harness.demo
fi

work=$(mktemp -d)
emulator_pid=""
cleanup() {
  if [ -n "$emulator_pid" ]; then kill "$emulator_pid" 2>/dev/null || true; wait "$emulator_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

.venv/bin/python -m fleet_provider.emulator --port 0 --policy fleet-server-policy >"$work/emulator.log" 2>&1 &
emulator_pid=$!
for _ in $(seq 1 100); do
  url=$(head -n 1 "$work/emulator.log" 2>/dev/null || true)
  case "$url" in http://*) break ;; esac
  sleep 0.1
done
case "${url:-}" in http://*) ;; *) echo "the emulator did not start: $(cat "$work/emulator.log")" >&2; exit 1 ;; esac
echo "Kibana Fleet emulator at $url"

export KIBANA_ENDPOINT="$url" KIBANA_USERNAME=elastic KIBANA_PASSWORD=changeme
export PULUMI_BACKEND_URL="file://$work/state" PULUMI_CONFIG_PASSPHRASE="throwaway-demo-passphrase"
export PULUMI_SKIP_UPDATE_CHECK=true
mkdir -p "$work/state"

pulumi stack init demo --non-interactive
pulumi up --yes --non-interactive --skip-preview
echo "--- stack outputs (the token stays a secret) ---"
pulumi stack output
pulumi destroy --yes --non-interactive --skip-preview
pulumi stack rm demo --yes --non-interactive
echo "--- emulator requests ---"
tail -n +2 "$work/emulator.log"
