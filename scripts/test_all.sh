#!/usr/bin/env bash
# make test-all: the test suite on every Python from 3.10 to 3.13 found on this machine.
# Each version gets its own virtualenv under .venvs/; a version that is not installed is skipped.
set -uo pipefail
cd "$(dirname "$0")/.."

find_python() {
  local version=$1 candidate
  for candidate in "python$version" ; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys' >/dev/null 2>&1; then
      command -v "$candidate"; return 0
    fi
  done
  if command -v pyenv >/dev/null 2>&1; then
    for candidate in "$(pyenv root)"/versions/"$version".*/bin/python; do
      [ -x "$candidate" ] && { echo "$candidate"; return 0; }
    done
  fi
  return 1
}

declare -a summary
status=0
for version in 3.10 3.11 3.12 3.13; do
  if ! python=$(find_python "$version"); then
    summary+=("$version: skipped (not installed)")
    continue
  fi
  venv=".venvs/py$version"
  if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv" || { summary+=("$version: FAILED to create $venv"); status=1; continue; }
  fi
  "$venv/bin/python" -m pip install --quiet --upgrade pip >/dev/null
  if ! "$venv/bin/python" -m pip install --quiet -e '.[dev]'; then
    summary+=("$version: FAILED to install"); status=1; continue
  fi
  echo "=== Python $version ($python)"
  if "$venv/bin/python" -m pytest -q -p no:cacheprovider "$@"; then
    summary+=("$version: passed")
  else
    summary+=("$version: FAILED"); status=1
  fi
done

echo "=== summary"
printf '%s\n' "${summary[@]}"
exit $status
