#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Provisions keyless-worker's resources, identities and rights in Azure with the az CLI, least
# privilege and no secret; scripts/deploy.sh runs this and then builds and releases the worker.
# Idempotent: whatever exists is left as it is ("present"), and a second run changes nothing.
set -euo pipefail

usage() {
  cat <<'USAGE'
usage: scripts/provision.sh [--dry-run] [--identity user|system] [--prefix keyless]
                            [--location westeurope] [--resource-group NAME]

Creates the resource group, the identities (worker, publisher, operator, scaler), Service Bus,
Key Vault, Azure SQL, Azure Managed Redis, the registry and the Container Apps environment, and
grants each identity its roles. Prints the database users to create as the SQL Entra admin
(scripts/deploy.sh creates them itself, then builds the image and releases the app).

  --dry-run          print every az command, in order, and run none
  --identity         the worker's identity: user-assigned (default) or the app's system-assigned
  --prefix           names every resource (default keyless)
  --location         Azure region (default westeurope)
  --resource-group   default PREFIX-rg
  -h, --help         this help
USAGE
}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lib/az.sh
source "$ROOT/scripts/lib/az.sh"
# shellcheck source=lib/provision-steps.sh
source "$ROOT/scripts/lib/provision-steps.sh"
bad() { printf 'provision: %s\n\n' "$1" >&2; usage >&2; exit 2; }
while [[ $# -gt 0 ]]; do
  case $1 in
    -h | --help) usage; exit 0 ;;
    --dry-run) DRY_RUN=true ;;
    --identity | --prefix | --location | --resource-group) take_option "$@"; shift ;;
    *) bad "unknown option $1" ;;
  esac
  shift
done
deployment_names

say "provisioning $APP in $RG ($LOCATION), worker identity: $IDENTITY-assigned$([[ $DRY_RUN == true ]] && echo ', dry run: printing the az commands, running none')"
provision_resources

say ""
say "Database users: run this in database '$DATABASE' on $SQL_SERVER.database.windows.net, signed in as"
say "its Microsoft Entra admin ($ADMIN_UPN), e.g. with sqlcmd -G (scripts/deploy.sh runs it for you):"
for line in "${SQL_ALL[@]}"; do say "  $line"; done
if [[ $IDENTITY == system ]]; then
  say "The worker's own rights and database user follow once the app exists: scripts/deploy.sh --identity system."
fi
say ""
say_changes
