#!/usr/bin/env bash
# Provisions keyless-worker in Azure with the az CLI, least privilege and no secret:
#   scripts/provision.sh [--dry-run] [--identity user|system] [--prefix keyless] [--location westeurope]
#                        [--resource-group NAME] [--image REGISTRY/keyless-worker:TAG]
# Idempotent: whatever exists is left as it is ("present"), and a second run changes nothing.
# --dry-run prints every az command it would run and runs none.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: scripts/provision.sh [options]

Provisions keyless-worker in Azure with the az CLI, least privilege and no secret; idempotent:
whatever exists is left as it is, and a second run changes nothing. Ends with the T-SQL to run in
the database as its Microsoft Entra admin.

      --dry-run               prints every az command it would run and runs none
      --identity user|system  the worker's identity: user-assigned (default) or the app's own
      --prefix P              prefix of every resource name (default keyless)
      --location L            Azure region (default westeurope)
      --resource-group NAME   resource group (default P-rg)
      --image REF             the worker's image (default the registry's keyless-worker:latest)
  -h, --help                  prints this help
EOF
}

DRY_RUN=false
IDENTITY=user
PREFIX=keyless
LOCATION=westeurope
RESOURCE_GROUP=""
IMAGE=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --dry-run) DRY_RUN=true ;;
    --identity) IDENTITY=$2; shift ;;
    --prefix) PREFIX=$2; shift ;;
    --location) LOCATION=$2; shift ;;
    --resource-group) RESOURCE_GROUP=$2; shift ;;
    --image) IMAGE=$2; shift ;;
    -h|--help) usage; exit 0 ;;
    *) printf 'provision: unknown option %s\n\n' "$1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
if [[ $IDENTITY != user && $IDENTITY != system ]]; then
  printf 'provision: --identity is user or system, not %s\n\n' "$IDENTITY" >&2
  usage >&2
  exit 2
fi

RG=${RESOURCE_GROUP:-$PREFIX-rg}
NAMESPACE=$PREFIX-bus
QUEUE=orders
VAULT=$PREFIX-kv
SQL_SERVER=$PREFIX-sql
DATABASE=keyless
REDIS=$PREFIX-redis
REGISTRY=${PREFIX//-/}acr
ENVIRONMENT=$PREFIX-env
APP=$PREFIX-worker
JOB=$PREFIX-migrate
IMAGE=${IMAGE:-$REGISTRY.azurecr.io/keyless-worker:latest}
ROOT=$(cd "$(dirname "$0")/.." && pwd)

# The roles table (src/identity/roles.ts: principal, kind, role, scope); a test checks that they agree.
GRANTS=(
  "worker|rbac|Azure Service Bus Data Receiver|queue"
  "worker|rbac|Key Vault Secrets User|vault"
  "worker|sql|db_datareader|database"
  "worker|sql|db_datawriter|database"
  "worker|redis|default|redis"
  "worker|rbac|AcrPull|registry"
  "publisher|rbac|Azure Service Bus Data Sender|queue"
  "operator|rbac|Azure Service Bus Data Receiver|queue"
  "operator|rbac|Azure Service Bus Data Sender|queue"
  "operator|sql|db_datareader|database"
  "operator|sql|db_datawriter|database"
  "operator|sql|db_ddladmin|database"
  "operator|redis|default|redis"
  "operator|rbac|AcrPull|registry"
  "scaler|rbac|Azure Service Bus Data Owner|queue"
)

CHANGED=0
say() { printf '%s\n' "$*"; }
show_cmd() { printf '  az'; printf ' %q' "$@"; printf '\n'; }

# ensure LABEL QUERY SHOW-ARGS... -- CREATE-ARGS...: creates the resource unless `show` finds it;
# sets ENSURED to the query's answer (tab-separated fields), or to placeholders in a dry run.
ensure() {
  local label=$1 query=$2 show=() create=()
  shift 2
  while [[ $1 != -- ]]; do show+=("$1"); shift; done
  shift
  create=("$@")
  if [[ $DRY_RUN == true ]]; then
    show_cmd "${show[@]}" --query "$query" -o tsv
    show_cmd "${create[@]}" --query "$query" -o tsv
    local fields=${query#[}
    fields=${fields%]}
    # shellcheck disable=SC2086 # one placeholder per field of the query
    ENSURED=$(printf '<%s %s>\t' "$label" ${fields//,/ })
    ENSURED=${ENSURED%$'\t'}
    return
  fi
  if ENSURED=$(az "${show[@]}" --query "$query" -o tsv 2>/dev/null); then
    say "present  $label"
  else
    say "create   $label"
    ENSURED=$(az "${create[@]}" --query "$query" -o tsv)
    CHANGED=$((CHANGED + 1))
  fi
}

# assign OBJECT-ID ROLE SCOPE LABEL: one Azure role assignment, unless it is there.
assign() {
  local principal=$1 role=$2 scope=$3 label=$4
  if [[ $DRY_RUN == true ]]; then
    show_cmd role assignment create --assignee-object-id "$principal" --assignee-principal-type ServicePrincipal --role "$role" --scope "$scope"
    return
  fi
  local count
  count=$(az role assignment list --assignee "$principal" --role "$role" --scope "$scope" --query 'length(@)' -o tsv)
  if [[ $count != 0 ]]; then
    say "present  $label: $role"
  else
    say "assign   $label: $role"
    az role assignment create --assignee-object-id "$principal" --assignee-principal-type ServicePrincipal \
      --role "$role" --scope "$scope" --output none
    CHANGED=$((CHANGED + 1))
  fi
}

say "provisioning $APP in $RG ($LOCATION), worker identity: $IDENTITY-assigned$([[ $DRY_RUN == true ]] && echo ', dry run: printing the az commands, running none')"
ensure "resource group $RG" id group show --name "$RG" -- group create --name "$RG" --location "$LOCATION"

declare -A IDENTITY_ID CLIENT_ID OBJECT_ID NAME_OF
principals=(publisher operator scaler)
[[ $IDENTITY == user ]] && principals=(worker "${principals[@]}")
for p in "${principals[@]}"; do
  ensure "identity $PREFIX-$p" '[id,clientId,principalId]' \
    identity show --resource-group "$RG" --name "$PREFIX-$p" -- \
    identity create --resource-group "$RG" --name "$PREFIX-$p" --location "$LOCATION"
  IFS=$'\t' read -r "IDENTITY_ID[$p]" "CLIENT_ID[$p]" "OBJECT_ID[$p]" <<<"$ENSURED"
  NAME_OF[$p]=$PREFIX-$p
done

# Local (SAS key) authentication off: only Entra tokens are accepted.
ensure "service bus namespace $NAMESPACE" id \
  servicebus namespace show --resource-group "$RG" --name "$NAMESPACE" -- \
  servicebus namespace create --resource-group "$RG" --name "$NAMESPACE" --location "$LOCATION" --sku Standard \
  --disable-local-auth true
ensure "queue $QUEUE" id servicebus queue show --resource-group "$RG" --namespace-name "$NAMESPACE" --name "$QUEUE" -- \
  servicebus queue create --resource-group "$RG" --namespace-name "$NAMESPACE" --name "$QUEUE" \
  --lock-duration PT1M --max-delivery-count 10 --enable-duplicate-detection true \
  --duplicate-detection-history-time-window PT10M --enable-dead-lettering-on-message-expiration true
declare -A SCOPE
SCOPE[queue]=$ENSURED

ensure "key vault $VAULT" id keyvault show --resource-group "$RG" --name "$VAULT" -- \
  keyvault create --resource-group "$RG" --name "$VAULT" --location "$LOCATION" --enable-rbac-authorization true
SCOPE[vault]=$ENSURED

# Microsoft Entra-only authentication: no SQL login, no password; the signed-in user is the admin.
ensure "signed-in user (SQL Entra admin)" '[id,userPrincipalName]' ad signed-in-user show -- ad signed-in-user show
IFS=$'\t' read -r ADMIN_ID ADMIN_UPN <<<"$ENSURED"
ensure "sql server $SQL_SERVER" id sql server show --resource-group "$RG" --name "$SQL_SERVER" -- \
  sql server create --resource-group "$RG" --name "$SQL_SERVER" --location "$LOCATION" --enable-ad-only-auth \
  --external-admin-principal-type User --external-admin-name "$ADMIN_UPN" --external-admin-sid "$ADMIN_ID"
ensure "database $DATABASE" id sql db show --resource-group "$RG" --server "$SQL_SERVER" --name "$DATABASE" -- \
  sql db create --resource-group "$RG" --server "$SQL_SERVER" --name "$DATABASE" --service-objective S0

# Azure Managed Redis: Entra authentication only (access keys off), one endpoint for BullMQ.
ensure "redis $REDIS" id redisenterprise show --resource-group "$RG" --cluster-name "$REDIS" -- \
  redisenterprise create --resource-group "$RG" --cluster-name "$REDIS" --location "$LOCATION" --sku Balanced_B0 \
  --clustering-policy EnterpriseCluster --access-keys-authentication Disabled
SCOPE[redis]=$ENSURED

ensure "registry $REGISTRY" '[id,loginServer]' acr show --resource-group "$RG" --name "$REGISTRY" -- \
  acr create --resource-group "$RG" --name "$REGISTRY" --sku Basic --admin-enabled false
IFS=$'\t' read -r "SCOPE[registry]" REGISTRY_SERVER <<<"$ENSURED"

ensure "container apps environment $ENVIRONMENT" id \
  containerapp env show --resource-group "$RG" --name "$ENVIRONMENT" -- \
  containerapp env create --resource-group "$RG" --name "$ENVIRONMENT" --location "$LOCATION"
ENVIRONMENT_ID=$ENSURED

SQL_LINES=()
grant_all() { # grant_all PRINCIPAL: every row of the table for it
  local who=$1 row p kind role scope
  for row in "${GRANTS[@]}"; do
    IFS='|' read -r p kind role scope <<<"$row"
    [[ $p == "$who" ]] || continue
    case $kind in
      rbac) assign "${OBJECT_ID[$p]}" "$role" "${SCOPE[$scope]}" "$p on $scope" ;;
      sql)
        SQL_LINES+=("ALTER ROLE $role ADD MEMBER [${NAME_OF[$p]}];") ;;
      redis)
        ensure "redis access policy $role for $p" id \
          redisenterprise database access-policy-assignment show --resource-group "$RG" --cluster-name "$REDIS" \
          --database-name default --access-policy-assignment-name "$p" -- \
          redisenterprise database access-policy-assignment create --resource-group "$RG" --cluster-name "$REDIS" \
          --database-name default --access-policy-assignment-name "$p" --access-policy-name "$role" \
          --object-id "${OBJECT_ID[$p]}" ;;
    esac
  done
  if [[ ${#SQL_LINES[@]} -gt 0 ]]; then
    SQL_LINES=("CREATE USER [${NAME_OF[$who]}] FROM EXTERNAL PROVIDER;" "${SQL_LINES[@]}")
    SQL_ALL+=("${SQL_LINES[@]}")
    SQL_LINES=()
  fi
}
SQL_ALL=()
# With a user-assigned worker identity its rights exist before the app does, so the first revision
# starts with them; a system-assigned identity exists only once the app does (granted below).
for p in "${principals[@]}"; do grant_all "$p"; done

render_yaml() { # render_yaml FILE: fills the ${NAME} placeholders; prints the path of the result
  local out
  out=$(mktemp "${TMPDIR:-/tmp}/keyless-$(basename "$1" .yaml)-XXXXXX.yaml")
  local sed_args=(
    -e "s|\${APP_NAME}|$APP|g" -e "s|\${JOB_NAME}|$JOB|g" -e "s|\${LOCATION}|$LOCATION|g"
    -e "s|\${ENVIRONMENT_ID}|$ENVIRONMENT_ID|g" -e "s|\${REGISTRY_SERVER}|$REGISTRY_SERVER|g" -e "s|\${IMAGE}|$IMAGE|g"
    -e "s|\${SERVICEBUS_NAMESPACE}|$NAMESPACE|g" -e "s|\${SERVICEBUS_QUEUE}|$QUEUE|g" -e "s|\${KEY_VAULT_NAME}|$VAULT|g"
    -e "s|\${SQL_SERVER_NAME}|$SQL_SERVER|g" -e "s|\${SQL_DATABASE}|$DATABASE|g" -e "s|\${REDIS_NAME}|$REDIS|g"
    -e "s|\${SCALER_IDENTITY_ID}|${IDENTITY_ID[scaler]}|g"
    -e "s|\${OPERATOR_IDENTITY_ID}|${IDENTITY_ID[operator]}|g" -e "s|\${OPERATOR_CLIENT_ID}|${CLIENT_ID[operator]}|g"
  )
  if [[ $IDENTITY == user ]]; then
    sed_args+=(-e "s|\${WORKER_IDENTITY_ID}|${IDENTITY_ID[worker]}|g" -e "s|\${WORKER_CLIENT_ID}|${CLIENT_ID[worker]}|g")
  else
    sed_args+=(-e '/# user-assigned only$/d' -e 's|^  type: UserAssigned .*$|  type: SystemAssigned,UserAssigned|'
      -e "s|\${WORKER_IDENTITY_ID}|system|g")
  fi
  sed "${sed_args[@]}" "$1" >"$out"
  printf '%s' "$out"
}

APP_YAML=$(render_yaml "$ROOT/containerapp.yaml")
JOB_YAML=$(render_yaml "$ROOT/containerapp.migrate-job.yaml")
say "rendered $APP_YAML and $JOB_YAML"
ensure "container app $APP" '[id,identity.principalId]' containerapp show --resource-group "$RG" --name "$APP" -- \
  containerapp create --resource-group "$RG" --name "$APP" --yaml "$APP_YAML"
if [[ $IDENTITY == system ]]; then
  IFS=$'\t' read -r _ "OBJECT_ID[worker]" <<<"$ENSURED"
  NAME_OF[worker]=$APP
  grant_all worker
  say "note: the first revision started before its system-assigned identity had any role; it stops at"
  say "      its rights check and starts once the roles have propagated (or restart the revision)."
fi
ensure "migration job $JOB" id containerapp job show --resource-group "$RG" --name "$JOB" -- \
  containerapp job create --resource-group "$RG" --name "$JOB" --yaml "$JOB_YAML"

say ""
say "Database users: run this in database '$DATABASE' on $SQL_SERVER.database.windows.net, signed in as"
say "its Microsoft Entra admin ($ADMIN_UPN), e.g. with sqlcmd -G (statements for existing users fail harmlessly):"
for line in "${SQL_ALL[@]}"; do say "  $line"; done
say ""
if [[ $DRY_RUN == true ]]; then
  say "dry run: nothing ran"
elif [[ $CHANGED -eq 0 ]]; then
  say "nothing to change: everything was present"
else
  say "$CHANGED change(s) made"
fi
