# shellcheck shell=bash disable=SC2034 # its variables are read by the script that sources it
# Sourced by scripts/deploy.sh after scripts/lib/provision-steps.sh: the steps after provisioning.
# DEPLOY_POLL_SECONDS (default 10) is how often a running job is asked for its state.

poll() { sleep "${DEPLOY_POLL_SECONDS:-10}"; }

# The statements in SQL_ALL, as the signed-in user (the server's Entra admin), through this checkout's
# own SQL client. The server refuses an address it has no rule for and names it: the rule is added
# and the statements run again.
create_database_users() {
  [[ ${#SQL_ALL[@]} -gt 0 ]] || return 0
  local sql_env=(AZURE_CREDENTIAL=developer "SQL_SERVER=$SQL_SERVER.database.windows.net" "SQL_DATABASE=$DATABASE")
  if [[ $DRY_RUN == true ]]; then
    show_cmd env "${sql_env[@]}" npm run --silent sql -- '<database-user-statements>'
    say "   where <database-user-statements> is:"
    local line
    for line in "${SQL_ALL[@]}"; do say "     $line"; done
    SQL_ALL=()
    return
  fi
  local batch out ip attempt
  batch=$(printf '%s\n' "${SQL_ALL[@]}")
  for attempt in 1 2 3 4 5 6; do
    if out=$(env "${sql_env[@]}" npm run --silent sql -- "$batch" 2>&1); then
      say "ok       database users: ${#SQL_ALL[@]} statement(s) as $ADMIN_UPN (existing users and members are left as they are)"
      SQL_ALL=()
      return 0
    fi
    ip=$(sed -n "s/.*Client with IP address '\([0-9A-Fa-f.:]*\)' is not allowed.*/\1/p" <<<"$out" | head -n 1)
    if [[ -z $ip || $attempt -eq 6 ]]; then
      printf '%s\n' "$out" >&2
      say "failed   database users: run the statements that provision.sh prints as the Entra admin, then deploy.sh again"
      return 1
    fi
    ensure "sql firewall rule for this machine ($ip)" sql-firewall-rule id \
      sql server firewall-rule show --resource-group "$RG" --server "$SQL_SERVER" --name "deployer-${ip//[.:]/-}" -- \
      sql server firewall-rule create --resource-group "$RG" --server "$SQL_SERVER" --name "deployer-${ip//[.:]/-}" \
      --start-ip-address "$ip" --end-ip-address "$ip"
    poll
  done
}

# The image of this checkout, built by the registry itself from the sources (.dockerignore applies).
build_image() {
  IMAGE=$REGISTRY_SERVER/keyless-worker:$TAG
  if [[ $DRY_RUN == true ]]; then
    show_cmd az acr repository show --name "$REGISTRY" --image "keyless-worker:$TAG" --query digest -o tsv
    show_cmd az acr build --registry "$REGISTRY" --image "keyless-worker:$TAG" --file Dockerfile .
    return
  fi
  if az acr repository show --name "$REGISTRY" --image "keyless-worker:$TAG" --query digest -o tsv >/dev/null 2>&1; then
    say "present  image keyless-worker:$TAG"
    return
  fi
  say "build    image keyless-worker:$TAG in $REGISTRY"
  az acr build --registry "$REGISTRY" --image "keyless-worker:$TAG" --file Dockerfile . >&2
  CHANGED=$((CHANGED + 1))
}

# run_job LABEL JOB CONTAINER: starts an execution and waits for its end; a failure stops the deploy
# with the command that shows its logs.
run_job() {
  local label=$1 job=$2 container=$3 execution status deadline
  if [[ $DRY_RUN == true ]]; then
    show_cmd az containerapp job start --resource-group "$RG" --name "$job" --query name -o tsv
    show_cmd az containerapp job execution show --resource-group "$RG" --name "$job" \
      --job-execution-name "<$container-execution-name>" --query properties.status -o tsv
    return
  fi
  say "start    $label"
  execution=$(az containerapp job start --resource-group "$RG" --name "$job" --query name -o tsv)
  deadline=$((SECONDS + ${DEPLOY_JOB_TIMEOUT_SECONDS:-1200}))
  while :; do
    status=$(az containerapp job execution show --resource-group "$RG" --name "$job" \
      --job-execution-name "$execution" --query properties.status -o tsv)
    case $status in
      Succeeded) say "ok       $label ($execution)"; return 0 ;;
      Failed | Stopped | Degraded)
        say "failed   $label: $status (execution $execution); its logs:"
        show_cmd az containerapp job logs show --resource-group "$RG" --name "$job" --execution "$execution" \
          --container "$container" --format text
        return 1 ;;
    esac
    if ((SECONDS > deadline)); then
      say "failed   $label: still $status after ${DEPLOY_JOB_TIMEOUT_SECONDS:-1200} s (execution $execution)"
      return 1
    fi
    poll
  done
}

# run_job_if_needed LABEL JOB CONTAINER CHANGED: runs the job when what it checks changed this run,
# or when its last execution did not succeed; otherwise its last success stands.
run_job_if_needed() {
  local last
  if [[ $DRY_RUN != true && $4 != true ]]; then
    last=$(az containerapp job execution list --resource-group "$RG" --name "$2" \
      --query 'sort_by(@, &properties.startTime)[-1].properties.status' -o tsv)
    if [[ $last == Succeeded ]]; then
      say "present  $1: its last execution succeeded"
      return 0
    fi
  fi
  run_job "$1" "$2" "$3"
}

# A system-assigned identity exists once the app does: its rights and its database user follow it.
grant_system_identity() {
  lookup app-identity identity.principalId containerapp show --resource-group "$RG" --name "$APP"
  OBJECT_ID["worker"]=$ENSURED
  NAME_OF["worker"]=$APP
  grant_all worker
  create_database_users
  say "note: the first revision started before its system-assigned identity had any role; it stops at"
  say "      its rights check and starts once the roles have propagated (or restart the revision)."
}

# run_doctor APP-CHANGED: the doctor as the worker's identity, with the app's settings, after each change.
run_doctor() {
  if [[ $IDENTITY == system ]]; then
    say "The system-assigned identity belongs to the app alone: run the doctor inside it (interactive):"
    show_cmd az containerapp exec --resource-group "$RG" --name "$APP" --command 'node dist/scripts/doctor.js --as worker'
    return
  fi
  render_yaml containerapp.doctor-job.yaml "$OUT/containerapp.doctor-job.yaml" "$IMAGE"
  apply_yaml "doctor job $DOCTOR_JOB" "$OUT/containerapp.doctor-job.yaml" "$DOCTOR_JOB" containerapp job
  local changed=$1
  [[ $APPLIED == true ]] && changed=true
  if ! run_job_if_needed "doctor" "$DOCTOR_JOB" doctor "$changed"; then
    say "         New role assignments can take a few minutes to apply: run deploy.sh again (it runs the doctor again)."
    return 1
  fi
}
