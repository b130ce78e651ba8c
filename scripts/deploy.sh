#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# The whole deployment in one command, in the order it needs: provision (scripts/provision.sh's
# steps), the database users, the image (az acr build: no local Docker), the migration job run to
# success, then the app, then the doctor as the worker's identity. Idempotent: a second run with
# the same image tag and the same specs changes nothing and says so.
set -euo pipefail

usage() {
  cat <<'USAGE'
usage: scripts/deploy.sh [--dry-run] [--tag TAG] [--identity user|system] [--prefix keyless]
                         [--location westeurope] [--resource-group NAME] [--out DIR]

In order: provisions what is missing (scripts/provision.sh), creates the database users as the
signed-in SQL Entra admin (npm run sql, from this checkout), builds the image in the registry
(az acr build), creates or updates the migration job and runs it to success, creates or updates
the app, runs the doctor as the worker's identity, and prints how to watch the app.

  --dry-run          print every command, in order, with named placeholders, and run none
  --tag              the image tag (default: the commit, with -dirty-HASH for uncommitted changes)
  --identity         the worker's identity: user-assigned (default) or the app's system-assigned
  --prefix           names every resource (default keyless)
  --location         Azure region (default westeurope)
  --resource-group   default PREFIX-rg
  --out              where the rendered app and job specs are written (default .local/deploy/PREFIX)
  -h, --help         this help
USAGE
}

TAG=""
OUT=""
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
# shellcheck source=lib/az.sh
source "$ROOT/scripts/lib/az.sh"
# shellcheck source=lib/provision-steps.sh
source "$ROOT/scripts/lib/provision-steps.sh"
# shellcheck source=lib/deploy-steps.sh
source "$ROOT/scripts/lib/deploy-steps.sh"
bad() { printf 'deploy: %s\n\n' "$1" >&2; usage >&2; exit 2; }
while [[ $# -gt 0 ]]; do
  case $1 in
    -h | --help) usage; exit 0 ;;
    --dry-run) DRY_RUN=true ;;
    --tag | --identity | --prefix | --location | --resource-group | --out) take_option "$@"; shift ;;
    *) bad "unknown option $1" ;;
  esac
  shift
done
deployment_names
OUT=${OUT:-.local/deploy/$PREFIX}
# The same sources give the same tag, so a second run finds its image and builds nothing.
if [[ -z $TAG ]]; then
  TAG=$(git rev-parse --short=12 HEAD)
  if [[ -n $(git status --porcelain) ]]; then
    TAG+=-dirty-$({ git diff HEAD --binary; git ls-files --others --exclude-standard -z | xargs -0 -r cat; } | git hash-object --stdin | cut -c1-8)
  fi
fi

say "deploying keyless-worker:$TAG to $APP in $RG ($LOCATION), worker identity: $IDENTITY-assigned$([[ $DRY_RUN == true ]] && echo ', dry run: printing the commands, running none')"
say "1/6 provision"
provision_resources
say "2/6 database users, as the SQL Entra admin"
create_database_users
say "3/6 image"
build_image
say "4/6 migrations"
mkdir -p "$OUT"
render_yaml containerapp.migrate-job.yaml "$OUT/containerapp.migrate-job.yaml" "$IMAGE"
apply_yaml "migration job $JOB" "$OUT/containerapp.migrate-job.yaml" "$JOB" containerapp job
run_job_if_needed "migration job $JOB" "$JOB" migrate "$APPLIED"
say "5/6 app"
render_yaml containerapp.yaml "$OUT/containerapp.yaml" "$IMAGE"
apply_yaml "container app $APP" "$OUT/containerapp.yaml" "$APP" containerapp
APP_CHANGED=$APPLIED
if [[ $IDENTITY == system ]]; then
  grant_system_identity
  APP_CHANGED=true
fi
say "6/6 doctor, as the worker's identity"
run_doctor "$APP_CHANGED"

say ""
say_changes
say "image:    $IMAGE"
say "app:      $APP in $RG (specs in $OUT)"
say "Watch it:"
show_cmd az containerapp logs show --resource-group "$RG" --name "$APP" --follow --format text
show_cmd az containerapp revision list --resource-group "$RG" --name "$APP" -o table
show_cmd az containerapp replica list --resource-group "$RG" --name "$APP" -o table
show_cmd az containerapp job execution list --resource-group "$RG" --name "$JOB" -o table
