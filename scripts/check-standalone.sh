#!/usr/bin/env bash
# Fails if anything in the repository reaches outside it: a path into a sibling folder
# (../shared and the like) or into the machine the project was developed on (/work/...). Run by
# ctest (standalone_repository) and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
pattern='\.\./shared|/work/shared|/work/main/'
if git rev-parse --git-dir >/dev/null 2>&1; then
  hits=$(git grep -nIE "$pattern" -- . ':!scripts/check-standalone.sh' || true)
else
  hits=$(grep -rnIE "$pattern" --exclude-dir=build --exclude=check-standalone.sh . || true)
fi
if [ -n "$hits" ]; then
  echo "the repository refers to folders outside it:"
  echo "$hits"
  exit 1
fi
echo "standalone: nothing refers outside the repository"
