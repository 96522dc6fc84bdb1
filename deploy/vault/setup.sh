#!/usr/bin/env bash
# Prepares HashiCorp Vault for tokenvault. Idempotent: run it again after changing a parameter.
#
#   1. enables the Transit secrets engine (if absent) and creates the key-encryption key
#      (aes256-gcm96, not exportable, no plaintext backup, deletion not allowed);
#   2. enables KV version 2 (if absent), for HubSpot client secrets under <kv>/tokenvault/;
#   3. writes the least-privilege policy (tokenvault-policy.hcl beside this script);
#   4. enables the Kubernetes auth method (if absent) and creates the role bound to the chart's
#      ServiceAccount and namespace, with that policy and the audience of the pod's projected token;
#   5. prints how to rotate the key.
#
# Needs the `vault` CLI, logged in with a token allowed to manage mounts, auth methods and policies
# (VAULT_ADDR and VAULT_TOKEN as usual). Parameters, from the environment (defaults in brackets):
#   TRANSIT_MOUNT [transit]            Transit mount (chart: vault.transit.mount)
#   TRANSIT_KEY [tokenvault]           Transit key name (chart: vault.transit.keyName)
#   KV_MOUNT [secret]                  KV v2 mount (chart: vault.kvMount)
#   KV_PREFIX [tokenvault]             folder of tokenvault's client secrets in that mount
#   POLICY_NAME [tokenvault]           name of the policy
#   K8S_AUTH_PATH [kubernetes]         Kubernetes auth mount, without "auth/" (chart:
#                                      vault.kubernetesAuth.mountPath)
#   K8S_ROLE [tokenvault]              role name (chart: vault.kubernetesAuth.role)
#   TOKENVAULT_NAMESPACE [tokenvault]  namespace of the Helm release
#   TOKENVAULT_SERVICE_ACCOUNT [tokenvault]  ServiceAccount of the release (helm: the full name)
#   K8S_AUDIENCE [vault]               audience of the projected token (chart:
#                                      vault.kubernetesAuth.audience)
#   TOKEN_TTL [1h], TOKEN_MAX_TTL [24h]  lifetime of the Vault tokens the role issues
#   KUBERNETES_HOST []                 when set, (re)configures the auth method: API server URL
#   KUBERNETES_CA_CERT_FILE []         PEM CA of that API server (with KUBERNETES_HOST)
#   TOKEN_REVIEWER_JWT_FILE []         JWT of a ServiceAccount allowed to create TokenReviews
#                                      (system:auth-delegator); needed when Vault runs outside
#                                      the cluster, because the pods' tokens carry the audience
#                                      "vault" and cannot call the TokenReview API themselves
#   AUTO_ROTATE_PERIOD []              e.g. 30d: let Vault rotate the key itself (tokenvault
#                                      rewraps data keys in the background); empty = manual only
set -euo pipefail

TRANSIT_MOUNT="${TRANSIT_MOUNT:-transit}"
TRANSIT_KEY="${TRANSIT_KEY:-tokenvault}"
KV_MOUNT="${KV_MOUNT:-secret}"
KV_PREFIX="${KV_PREFIX:-tokenvault}"
POLICY_NAME="${POLICY_NAME:-tokenvault}"
K8S_AUTH_PATH="${K8S_AUTH_PATH:-kubernetes}"
K8S_ROLE="${K8S_ROLE:-tokenvault}"
TOKENVAULT_NAMESPACE="${TOKENVAULT_NAMESPACE:-tokenvault}"
TOKENVAULT_SERVICE_ACCOUNT="${TOKENVAULT_SERVICE_ACCOUNT:-tokenvault}"
K8S_AUDIENCE="${K8S_AUDIENCE:-vault}"
TOKEN_TTL="${TOKEN_TTL:-1h}"
TOKEN_MAX_TTL="${TOKEN_MAX_TTL:-24h}"
KUBERNETES_HOST="${KUBERNETES_HOST:-}"
KUBERNETES_CA_CERT_FILE="${KUBERNETES_CA_CERT_FILE:-}"
TOKEN_REVIEWER_JWT_FILE="${TOKEN_REVIEWER_JWT_FILE:-}"
AUTO_ROTATE_PERIOD="${AUTO_ROTATE_PERIOD:-}"

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
POLICY_FILE="${HERE}/tokenvault-policy.hcl"

log() { printf '==> %s\n' "$*"; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

command -v vault >/dev/null 2>&1 || die "the vault CLI is not on PATH"
[[ -n "${VAULT_ADDR:-}" ]] || die "VAULT_ADDR is not set"
[[ -f "${POLICY_FILE}" ]] || die "policy file not found: ${POLICY_FILE}"
for name in TRANSIT_MOUNT TRANSIT_KEY KV_MOUNT KV_PREFIX POLICY_NAME K8S_AUTH_PATH K8S_ROLE; do
  [[ "${!name}" =~ ^[A-Za-z0-9._/-]+$ ]] || die "${name} has unexpected characters: '${!name}'"
done
vault token lookup >/dev/null || die "cannot use the current Vault token (VAULT_TOKEN, or vault login)"

# "vault secrets list" / "vault auth list" print JSON objects keyed by "<path>/". (The output is
# captured first: with pipefail, grep -q closing the pipe early could fail the pipeline.)
secrets_mounted() {
  local mounts
  mounts="$(vault secrets list -format=json)"
  grep -q "\"${1%/}/\"" <<<"${mounts}"
}
auth_enabled() {
  local methods
  methods="$(vault auth list -format=json)"
  grep -q "\"${1%/}/\"" <<<"${methods}"
}

# ---- 1. Transit engine and key ---------------------------------------------------------------
if secrets_mounted "${TRANSIT_MOUNT}"; then
  log "Transit already enabled at ${TRANSIT_MOUNT}/"
else
  log "Enabling Transit at ${TRANSIT_MOUNT}/"
  vault secrets enable -path="${TRANSIT_MOUNT}" transit
fi

key_path="${TRANSIT_MOUNT}/keys/${TRANSIT_KEY}"
if vault read -format=json "${key_path}" >/dev/null 2>&1; then
  log "Transit key ${key_path} exists"
  key_type="$(vault read -field=type "${key_path}")"
  [[ "${key_type}" == "aes256-gcm96" ]] || die "${key_path} has type ${key_type}, expected aes256-gcm96"
  if [[ "$(vault read -field=exportable "${key_path}")" == "true" ]]; then
    warn "${key_path} is exportable; Vault cannot undo that. Consider a new key and a rewrap."
  fi
else
  log "Creating Transit key ${key_path} (aes256-gcm96, not exportable)"
  vault write "${key_path}" type=aes256-gcm96 exportable=false allow_plaintext_backup=false
fi
log "Forbidding deletion of ${key_path}"
vault write "${key_path}/config" deletion_allowed=false >/dev/null
if [[ -n "${AUTO_ROTATE_PERIOD}" ]]; then
  log "Automatic rotation of ${key_path} every ${AUTO_ROTATE_PERIOD}"
  vault write "${key_path}/config" auto_rotate_period="${AUTO_ROTATE_PERIOD}" >/dev/null
fi

# ---- 2. KV version 2 --------------------------------------------------------------------------
if secrets_mounted "${KV_MOUNT}"; then
  log "A secrets engine is already mounted at ${KV_MOUNT}/"
  kv_options="$(vault read -field=options "sys/mounts/${KV_MOUNT}" 2>/dev/null || true)"
  if [[ -n "${kv_options}" && "${kv_options}" != *"version:2"* ]]; then
    die "${KV_MOUNT}/ is not KV version 2 (options: ${kv_options}); tokenvault reads KV v2"
  fi
else
  log "Enabling KV version 2 at ${KV_MOUNT}/"
  vault secrets enable -path="${KV_MOUNT}" -version=2 kv
fi

# ---- 3. Policy ----------------------------------------------------------------------------------
log "Writing policy ${POLICY_NAME}"
sed -E -e "s#\"transit/(encrypt|decrypt|rewrap|keys)/tokenvault\"#\"${TRANSIT_MOUNT}/\1/${TRANSIT_KEY}\"#" \
    -e "s#\"secret/data/tokenvault/\*\"#\"${KV_MOUNT}/data/${KV_PREFIX}/*\"#" \
    "${POLICY_FILE}" | vault policy write "${POLICY_NAME}" -

# ---- 4. Kubernetes auth method and role ----------------------------------------------------------
if auth_enabled "${K8S_AUTH_PATH}"; then
  log "Kubernetes auth already enabled at auth/${K8S_AUTH_PATH}/"
else
  log "Enabling Kubernetes auth at auth/${K8S_AUTH_PATH}/"
  vault auth enable -path="${K8S_AUTH_PATH}" kubernetes
fi

if [[ -n "${KUBERNETES_HOST}" ]]; then
  log "Configuring auth/${K8S_AUTH_PATH}/config for ${KUBERNETES_HOST}"
  config_args=("kubernetes_host=${KUBERNETES_HOST}")
  if [[ -n "${KUBERNETES_CA_CERT_FILE}" ]]; then
    [[ -r "${KUBERNETES_CA_CERT_FILE}" ]] || die "cannot read ${KUBERNETES_CA_CERT_FILE}"
    config_args+=("kubernetes_ca_cert=@${KUBERNETES_CA_CERT_FILE}")
  fi
  if [[ -n "${TOKEN_REVIEWER_JWT_FILE}" ]]; then
    [[ -r "${TOKEN_REVIEWER_JWT_FILE}" ]] || die "cannot read ${TOKEN_REVIEWER_JWT_FILE}"
    config_args+=("token_reviewer_jwt=@${TOKEN_REVIEWER_JWT_FILE}")
  fi
  vault write "auth/${K8S_AUTH_PATH}/config" "${config_args[@]}"
elif ! vault read "auth/${K8S_AUTH_PATH}/config" >/dev/null 2>&1; then
  warn "auth/${K8S_AUTH_PATH}/config is not configured yet: run again with KUBERNETES_HOST (and"
  warn "KUBERNETES_CA_CERT_FILE, TOKEN_REVIEWER_JWT_FILE when Vault runs outside the cluster)."
fi

log "Writing role auth/${K8S_AUTH_PATH}/role/${K8S_ROLE} for ${TOKENVAULT_NAMESPACE}/${TOKENVAULT_SERVICE_ACCOUNT}"
vault write "auth/${K8S_AUTH_PATH}/role/${K8S_ROLE}" \
  bound_service_account_names="${TOKENVAULT_SERVICE_ACCOUNT}" \
  bound_service_account_namespaces="${TOKENVAULT_NAMESPACE}" \
  audience="${K8S_AUDIENCE}" \
  token_policies="${POLICY_NAME}" \
  token_ttl="${TOKEN_TTL}" \
  token_max_ttl="${TOKEN_MAX_TTL}"

# ---- 5. How to rotate ---------------------------------------------------------------------------
cat <<EOF

Vault is ready for tokenvault. Helm values that match:
  vault.transit.mount=${TRANSIT_MOUNT}  vault.transit.keyName=${TRANSIT_KEY}  vault.kvMount=${KV_MOUNT}
  vault.kubernetesAuth.mountPath=${K8S_AUTH_PATH}  vault.kubernetesAuth.role=${K8S_ROLE}
  vault.kubernetesAuth.audience=${K8S_AUDIENCE}
HubSpot client secrets go to KV v2, field "client-secret", for example:
  vault kv put -mount=${KV_MOUNT} ${KV_PREFIX}/apps/default client-secret=...
  (helm: apps.default.clientSecretVaultPath=${KV_PREFIX}/apps/default)

Rotating the key-encryption key:
  1. Create a new key version (new data keys are wrapped with it at once):
       vault write -f ${key_path}/rotate
  2. Rewrap the stored data keys to the newest version (inside Vault, never in clear), with a
     caller JWT in the group tokens.admin, and wait until "state" is "done":
       curl -X POST -H "Authorization: Bearer \$ADMIN_JWT" https://<tokenvault>/v1/admin/rewrap
       curl -H "Authorization: Bearer \$ADMIN_JWT" https://<tokenvault>/v1/admin/rewrap
  3. Only then retire the old versions, so that old ciphertexts (backups included) can no longer
     be opened:
       vault read -field=latest_version ${key_path}
       vault write ${key_path}/config min_decryption_version=<that version>
     Raising min_decryption_version before the rewrap is done makes the remaining data keys
     unreadable until it is lowered again.
EOF
