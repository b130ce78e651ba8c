# shellcheck shell=bash disable=SC2034 # its variables are read by the script that sources it
# Sourced by scripts/provision.sh and scripts/deploy.sh: runs az commands, or prints them in a dry
# run; creates what is absent, leaves what is present ("present"), and counts what it changed. In a
# dry run every value Azure would have answered is a placeholder naming it: <worker-identity-principal-id>.
# The sourcing script defines `bad MESSAGE` (one line and its usage on stderr, exit 2) and sets RG.

CHANGED=0
DRY_RUN=false
IDENTITY=user
PREFIX=keyless
LOCATION=westeurope
RESOURCE_GROUP=""
say() { printf '%s\n' "$*"; }

# take_option FLAG VALUE: sets what a flag of provision.sh or deploy.sh names; the caller shifts.
take_option() {
  [[ -n ${2:-} && $2 != -* ]] || bad "$1 needs a value"
  case $1 in
    --identity)
      [[ $2 == user || $2 == system ]] || bad "--identity is user or system, not $2"
      IDENTITY=$2 ;;
    --prefix) PREFIX=$2 ;;
    --location) LOCATION=$2 ;;
    --resource-group) RESOURCE_GROUP=$2 ;;
    --tag) TAG=$2 ;;
    --out) OUT=$2 ;;
  esac
}

say_changes() {
  if [[ $DRY_RUN == true ]]; then
    say "dry run: nothing ran"
  elif [[ $CHANGED -eq 0 ]]; then
    say "nothing to change: everything was present"
  else
    say "$CHANGED change(s) made"
  fi
}

# show_cmd WORDS...: the command as a person would type it; a <placeholder> stays readable.
show_cmd() {
  local line='' word plain='^[A-Za-z0-9_./:=@%+,-]*(<[a-z0-9-]+>)?[A-Za-z0-9_./:=@%+,-]*$'
  for word in "$@"; do
    if [[ -n $word && $word =~ $plain ]]; then
      line+=" $word"
    else
      line+=" '${word//\'/\'\\\'\'}'"
    fi
  done
  printf ' %s\n' "$line"
}

# placeholder NAME FIELD: <NAME-field> in kebab case, e.g. worker-identity principalId → <worker-identity-principal-id>.
placeholder() {
  local field=${2##*.} out='' c i
  field=${field//\"/}
  for ((i = 0; i < ${#field}; i++)); do
    c=${field:i:1}
    if [[ $c == [A-Z] ]]; then out+=-${c,,}; else out+=$c; fi
  done
  printf '<%s-%s>' "$1" "$out"
}
placeholders() { # placeholders NAME QUERY: one per field of the query, tab-separated
  local fields field out=()
  IFS=',' read -r -a fields <<<"${2//[\[\]]/}"
  for field in "${fields[@]}"; do out+=("$(placeholder "$1" "$field")"); done
  local IFS=$'\t'
  printf '%s' "${out[*]}"
}

# lookup NAME QUERY ARGS...: reads a value that is always there; ENSURED gets the query's answer.
lookup() {
  local name=$1 query=$2
  shift 2
  if [[ $DRY_RUN == true ]]; then
    show_cmd az "$@" --query "$query" -o tsv
    ENSURED=$(placeholders "$name" "$query")
    return
  fi
  ENSURED=$(az "$@" --query "$query" -o tsv)
}

# ensure LABEL NAME QUERY SHOW-ARGS... -- CREATE-ARGS...: creates the resource unless `show` finds it;
# ENSURED gets the query's answer (tab-separated fields).
ensure() {
  local label=$1 name=$2 query=$3 show=() create=()
  shift 3
  while [[ $1 != -- ]]; do show+=("$1"); shift; done
  shift
  create=("$@")
  if [[ $DRY_RUN == true ]]; then
    show_cmd az "${show[@]}" --query "$query" -o tsv
    show_cmd az "${create[@]}" --query "$query" -o tsv
    ENSURED=$(placeholders "$name" "$query")
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
    show_cmd az role assignment create --assignee-object-id "$principal" --assignee-principal-type ServicePrincipal \
      --role "$role" --scope "$scope" --output none
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

# apply_yaml LABEL FILE NAME GROUP...: creates the app or job GROUP (containerapp | containerapp job)
# from FILE, or updates it when the spec rendered into FILE (its keyless-spec tag) is not the one
# Azure has. APPLIED says whether it wrote.
apply_yaml() {
  local label=$1 file=$2 name=$3 spec current
  shift 3
  spec=$(sed -n 's/^  keyless-spec: //p' "$file")
  if [[ $DRY_RUN == true ]]; then
    show_cmd az "$@" show --resource-group "$RG" --name "$name" --query 'tags."keyless-spec"' -o tsv
    show_cmd az "$@" create --resource-group "$RG" --name "$name" --yaml "$file" --output none
    APPLIED=true
    return
  fi
  APPLIED=true
  if current=$(az "$@" show --resource-group "$RG" --name "$name" --query 'tags."keyless-spec"' -o tsv 2>/dev/null); then
    if [[ $current == "$spec" ]]; then
      say "present  $label"
      APPLIED=false
      return
    fi
    say "update   $label"
    az "$@" update --resource-group "$RG" --name "$name" --yaml "$file" --output none
  else
    say "create   $label"
    az "$@" create --resource-group "$RG" --name "$name" --yaml "$file" --output none
  fi
  CHANGED=$((CHANGED + 1))
}
