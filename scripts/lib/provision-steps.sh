# shellcheck shell=bash disable=SC2034 # its variables are read by the script that sources it
# Sourced by scripts/provision.sh and scripts/deploy.sh, after scripts/lib/az.sh: the resources,
# identities and rights of a deployment, least privilege and no secret. Expects DRY_RUN, IDENTITY
# (user|system), PREFIX, LOCATION and RESOURCE_GROUP (may be empty).

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

declare -gA IDENTITY_ID CLIENT_ID OBJECT_ID NAME_OF SCOPE
SQL_ALL=()

deployment_names() {
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
  DOCTOR_JOB=$PREFIX-doctor
  PRINCIPALS=(publisher operator scaler)
  [[ $IDENTITY == user ]] && PRINCIPALS=(worker "${PRINCIPALS[@]}")
  return 0
}

# grant_all PRINCIPAL: every row of the roles table for it; its database lines go to SQL_ALL.
grant_all() {
  local who=$1 row p kind role scope lines=()
  for row in "${GRANTS[@]}"; do
    IFS='|' read -r p kind role scope <<<"$row"
    [[ $p == "$who" ]] || continue
    case $kind in
      rbac) assign "${OBJECT_ID[$p]}" "$role" "${SCOPE[$scope]}" "$p on $scope" ;;
      sql) lines+=("ALTER ROLE $role ADD MEMBER [${NAME_OF[$p]}];") ;;
      redis)
        ensure "redis access policy $role for $p" "$p-redis-access-policy" id \
          redisenterprise database access-policy-assignment show --resource-group "$RG" --cluster-name "$REDIS" \
          --database-name default --access-policy-assignment-name "$p" -- \
          redisenterprise database access-policy-assignment create --resource-group "$RG" --cluster-name "$REDIS" \
          --database-name default --access-policy-assignment-name "$p" --access-policy-name "$role" \
          --object-id "${OBJECT_ID[$p]}" ;;
    esac
  done
  # Idempotent: a user that exists is left as it is, and adding a member twice changes nothing.
  if [[ ${#lines[@]} -gt 0 ]]; then
    SQL_ALL+=("IF DATABASE_PRINCIPAL_ID(N'${NAME_OF[$who]}') IS NULL CREATE USER [${NAME_OF[$who]}] FROM EXTERNAL PROVIDER;" "${lines[@]}")
  fi
}

provision_resources() {
  ensure "resource group $RG" resource-group id group show --name "$RG" -- group create --name "$RG" --location "$LOCATION"
  local p
  for p in "${PRINCIPALS[@]}"; do
    ensure "identity $PREFIX-$p" "$p-identity" '[id,clientId,principalId]' \
      identity show --resource-group "$RG" --name "$PREFIX-$p" -- \
      identity create --resource-group "$RG" --name "$PREFIX-$p" --location "$LOCATION"
    IFS=$'\t' read -r "IDENTITY_ID[$p]" "CLIENT_ID[$p]" "OBJECT_ID[$p]" <<<"$ENSURED"
    NAME_OF[$p]=$PREFIX-$p
  done

  # Local (SAS key) authentication off: only Entra tokens are accepted.
  ensure "service bus namespace $NAMESPACE" service-bus-namespace id \
    servicebus namespace show --resource-group "$RG" --name "$NAMESPACE" -- \
    servicebus namespace create --resource-group "$RG" --name "$NAMESPACE" --location "$LOCATION" --sku Standard \
    --disable-local-auth true
  ensure "queue $QUEUE" queue id servicebus queue show --resource-group "$RG" --namespace-name "$NAMESPACE" --name "$QUEUE" -- \
    servicebus queue create --resource-group "$RG" --namespace-name "$NAMESPACE" --name "$QUEUE" \
    --lock-duration PT1M --max-delivery-count 10 --enable-duplicate-detection true \
    --duplicate-detection-history-time-window PT10M --enable-dead-lettering-on-message-expiration true
  SCOPE[queue]=$ENSURED

  ensure "key vault $VAULT" key-vault id keyvault show --resource-group "$RG" --name "$VAULT" -- \
    keyvault create --resource-group "$RG" --name "$VAULT" --location "$LOCATION" --enable-rbac-authorization true
  SCOPE[vault]=$ENSURED

  # Microsoft Entra-only authentication: no SQL login, no password; the signed-in user is the admin.
  lookup sql-admin '[id,userPrincipalName]' ad signed-in-user show
  IFS=$'\t' read -r ADMIN_ID ADMIN_UPN <<<"$ENSURED"
  ensure "sql server $SQL_SERVER" sql-server id sql server show --resource-group "$RG" --name "$SQL_SERVER" -- \
    sql server create --resource-group "$RG" --name "$SQL_SERVER" --location "$LOCATION" --enable-ad-only-auth \
    --external-admin-principal-type User --external-admin-name "$ADMIN_UPN" --external-admin-sid "$ADMIN_ID"
  # The app and the jobs reach the server from Azure's addresses (0.0.0.0 is Azure's own rule for
  # that); with Entra-only authentication an address alone gets no further than the login.
  ensure "sql firewall rule for Azure services" sql-firewall-rule id \
    sql server firewall-rule show --resource-group "$RG" --server "$SQL_SERVER" --name AllowAllWindowsAzureIps -- \
    sql server firewall-rule create --resource-group "$RG" --server "$SQL_SERVER" --name AllowAllWindowsAzureIps \
    --start-ip-address 0.0.0.0 --end-ip-address 0.0.0.0
  ensure "database $DATABASE" database id sql db show --resource-group "$RG" --server "$SQL_SERVER" --name "$DATABASE" -- \
    sql db create --resource-group "$RG" --server "$SQL_SERVER" --name "$DATABASE" --service-objective S0

  # Azure Managed Redis: Entra authentication only (access keys off), one endpoint for BullMQ.
  ensure "redis $REDIS" redis id redisenterprise show --resource-group "$RG" --cluster-name "$REDIS" -- \
    redisenterprise create --resource-group "$RG" --cluster-name "$REDIS" --location "$LOCATION" --sku Balanced_B0 \
    --clustering-policy EnterpriseCluster --access-keys-authentication Disabled
  SCOPE[redis]=$ENSURED

  ensure "registry $REGISTRY" registry '[id,loginServer]' acr show --resource-group "$RG" --name "$REGISTRY" -- \
    acr create --resource-group "$RG" --name "$REGISTRY" --sku Basic --admin-enabled false
  IFS=$'\t' read -r "SCOPE[registry]" REGISTRY_SERVER <<<"$ENSURED"

  ensure "container apps environment $ENVIRONMENT" environment id \
    containerapp env show --resource-group "$RG" --name "$ENVIRONMENT" -- \
    containerapp env create --resource-group "$RG" --name "$ENVIRONMENT" --location "$LOCATION"
  ENVIRONMENT_ID=$ENSURED

  # With a user-assigned worker identity its rights exist before the app does, so the first revision
  # starts with them; a system-assigned identity exists only once the app does (granted then).
  for p in "${PRINCIPALS[@]}"; do grant_all "$p"; done
}

# render_yaml SOURCE OUT IMAGE: fills SOURCE's ${NAME} placeholders, then stamps the result's own
# hash as its keyless-spec tag, so a later run can tell whether Azure already has this spec.
render_yaml() {
  local source=$1 out=$2 image=$3 spec
  local sed_args=(
    -e "s|\${APP_NAME}|$APP|g" -e "s|\${JOB_NAME}|$JOB|g" -e "s|\${DOCTOR_JOB_NAME}|$DOCTOR_JOB|g"
    -e "s|\${LOCATION}|$LOCATION|g" -e "s|\${ENVIRONMENT_ID}|$ENVIRONMENT_ID|g"
    -e "s|\${REGISTRY_SERVER}|$REGISTRY_SERVER|g" -e "s|\${IMAGE}|$image|g"
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
  sed "${sed_args[@]}" "$source" >"$out"
  spec=$(git hash-object --stdin <"$out" | cut -c1-12)
  sed -i.bak "s|\${SPEC_HASH}|$spec|" "$out" && rm -f "$out.bak"
}
