#!/usr/bin/env bash
# terraform validate for each folder given, where `terraform init` can fetch the providers.
# Offline (no registry), init fails and the folder is reported as skipped, not failed:
# the offline checks of `make test` stand in for it.
set -uo pipefail
status=0
for dir in "$@"; do
  if ! out=$(terraform -chdir="$dir" init -backend=false -input=false -no-color 2>&1); then
    echo "skipped terraform validate in $dir: terraform init could not get the providers"
    echo "$out" | grep -m1 -E "Error|error" || true
    continue
  fi
  terraform -chdir="$dir" validate -no-color || status=1
done
exit "$status"
