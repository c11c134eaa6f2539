#!/usr/bin/env bash
# make test-matrix (and CI): the test suite on each Python x each pulumi of the matrix, one
# virtualenv per combination under .venvs/, then a summary table. Exits non-zero when any
# combination could not be set up or did not pass; pytest's "no tests ran" (exit 5) is a failure.
#
#   MATRIX_PYTHONS   Python versions (default "3.10 3.13": the lowest and the highest supported)
#   MATRIX_PULUMI    "lowest" (the floor in pyproject.toml, pinned exactly) and/or "newest"
#                    (whatever pip resolves today); default "lowest newest"
#   MATRIX_MISSING   "fail" (default): a Python that is not installed fails the run;
#                    "skip": it is reported as skipped (make test-all)
#   MATRIX_JOBS      how many suites run at once (default 2). The suite mostly waits (on the
#                    emulator, on backoff), so two of them share two cores without slowing down.
#
# Arguments are passed to pytest, e.g. `bash scripts/matrix.sh tests/e2e -x`.
set -uo pipefail
cd "$(dirname "$0")/.."

read -r -a pythons <<<"${MATRIX_PYTHONS:-3.10 3.13}"
read -r -a pulumis <<<"${MATRIX_PULUMI:-lowest newest}"
missing=${MATRIX_MISSING:-fail}
jobs=${MATRIX_JOBS:-2}

# A Python of this minor version: python3.X on PATH, else pyenv's newest 3.X.* install.
find_python() {
  local version=$1 candidate found=""
  candidate="python$version"
  if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys' >/dev/null 2>&1; then
    command -v "$candidate"
    return 0
  fi
  if command -v pyenv >/dev/null 2>&1; then
    for candidate in "$(pyenv root)"/versions/"$version".*/bin/python; do
      [ -x "$candidate" ] && found=$candidate
    done
  fi
  [ -n "$found" ] && { echo "$found"; return 0; }
  return 1
}

# The floor of the pulumi requirement in pyproject.toml ("pulumi>=3.139" gives 3.139).
floor=$(sed -n 's/^ *"pulumi>=\([0-9][0-9.]*\)".*/\1/p' pyproject.toml | head -n 1)
if [ -z "$floor" ]; then
  echo "matrix: no \"pulumi>=X\" line in pyproject.toml" >&2
  exit 2
fi

names=()         # every combination, in matrix order
declare -A info  # name -> "python pulumi-kind exact-python pulumi grpcio" once set up
declare -A note  # name -> result when it never reached pytest
declare -A took  # name -> seconds of setup (and tests, once run)
ready=()         # combinations set up, to be tested

# Setup, one combination after another: editable installs of one tree write the same egg-info.
for version in "${pythons[@]}"; do
  for which in "${pulumis[@]}"; do
    case $which in
      lowest) spec="pulumi==$floor" ;;
      newest) spec="pulumi" ;;
      *) echo "matrix: MATRIX_PULUMI takes lowest and newest, not '$which'" >&2; exit 2 ;;
    esac
    name="py$version-pulumi-$which"
    names+=("$name")
    info[$name]="$version $which - - -"
    took[$name]=0
    if ! python=$(find_python "$version"); then
      if [ "$missing" = skip ]; then
        note[$name]="skipped: Python $version is not installed"
      else
        echo "matrix: Python $version not found (no python$version on PATH, no pyenv $version.*)" >&2
        note[$name]="FAILED: Python $version is not installed"
      fi
      continue
    fi
    venv=".venvs/$name"
    echo "=== $name ($spec): setting up $venv with $python"
    started=$SECONDS
    mkdir -p .venvs
    if [ ! -x "$venv/bin/python" ] && ! "$python" -m venv "$venv"; then
      note[$name]="FAILED: cannot create $venv"
      continue
    fi
    # grpcio only from wheels: building it from source takes most of an hour on two cores, so a
    # pulumi whose grpcio has no wheel for this Python fails here at once instead.
    if ! { "$venv/bin/python" -m pip install --quiet --upgrade pip &&
      "$venv/bin/python" -m pip install --quiet --upgrade --only-binary grpcio \
        -e '.[dev]' "$spec"; } >"$venv.install.log" 2>&1; then
      cat "$venv.install.log" >&2
      note[$name]="FAILED: install (see $venv.install.log)"
      took[$name]=$((SECONDS - started))
      continue
    fi
    took[$name]=$((SECONDS - started))
    info[$name]="$version $which $("$venv/bin/python" -c '
import platform
from importlib.metadata import version
print(platform.python_version(), version("pulumi"), version("grpcio"))')"
    ready+=("$name")
  done
done

# Tests, up to $jobs suites at once, each into its log, which is printed whole when it ends.
declare -A code
run_batch() {
  local name pid
  declare -A pids
  for name in "$@"; do
    read -r _ _ pyver pulumiver grpcver <<<"${info[$name]}"
    echo "=== $name: Python $pyver, pulumi $pulumiver, grpcio $grpcver: running the suite"
    (
      started=$SECONDS
      ".venvs/$name/bin/python" -m pytest -q -p no:cacheprovider "${args[@]}" \
        >".venvs/$name.pytest.log" 2>&1
      status=$?
      echo "$status $((SECONDS - started))" >".venvs/$name.pytest.status"
      exit "$status"
    ) &
    pids[$name]=$!
  done
  for name in "$@"; do
    wait "${pids[$name]}"
    read -r "code[$name]" secs <".venvs/$name.pytest.status"
    took[$name]=$((took[$name] + secs))
    read -r _ _ pyver pulumiver _ <<<"${info[$name]}"
    echo
    echo "=== $name: Python $pyver, pulumi $pulumiver: pytest output"
    cat ".venvs/$name.pytest.log"
  done
}
args=("$@")
for ((i = 0; i < ${#ready[@]}; i += jobs)); do
  run_batch "${ready[@]:i:jobs}"
done

status=0
ran=0
failed=0
echo
echo "=== summary"
printf '%-7s %-7s %-8s %-8s %-8s %6s  %s\n' python pulumi exact version grpcio time result
for name in "${names[@]}"; do
  read -r version which pyver pulumiver grpcver <<<"${info[$name]}"
  if [ -n "${note[$name]:-}" ]; then
    result=${note[$name]}
  else
    ran=$((ran + 1))
    case ${code[$name]} in
      0) result="passed" ;;
      5) result="FAILED: no tests ran (pytest exit 5)" ;;
      *) result="FAILED (pytest exit ${code[$name]}, log .venvs/$name.pytest.log)" ;;
    esac
  fi
  case $result in FAILED*) status=1; failed=$((failed + 1)) ;; esac
  printf '%-7s %-7s %-8s %-8s %-8s %5ss  %s\n' "$version" "$which" "$pyver" "$pulumiver" \
    "$grpcver" "${took[$name]}" "$result"
done
if [ "$ran" -eq 0 ] && [ "$status" -eq 0 ]; then
  echo "matrix: FAILED: no combination ran"
  status=1
elif [ "$status" -eq 0 ]; then
  echo "matrix: every combination that ran passed ($ran of ${#names[@]} ran)"
else
  echo "matrix: FAILED: $failed of ${#names[@]} combinations"
fi
exit "$status"
