#!/usr/bin/env bash
# make test-all: the test suite on every Python from 3.10 to 3.13 found on this machine, each with
# the newest pulumi, in its own virtualenv under .venvs/. A version that is not installed is
# skipped; make test-matrix (what CI runs) fails instead, and adds the lowest supported pulumi.
set -uo pipefail
cd "$(dirname "$0")/.."
MATRIX_PYTHONS="3.10 3.11 3.12 3.13" MATRIX_PULUMI=newest MATRIX_MISSING=skip \
  exec bash scripts/matrix.sh "$@"
