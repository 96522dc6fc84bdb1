# Vault policy of the tokenvault service: least privilege.
#
# Written for the defaults: Transit mounted at "transit" with the key "tokenvault", KV v2 mounted at
# "secret". setup.sh writes this policy, substituting other mounts or key names when they are
# configured (TRANSIT_MOUNT, TRANSIT_KEY, KV_MOUNT).
#
# What tokenvault does with it:
#   - wraps each connection's data key (encrypt), opens it (decrypt) and moves it to the newest key
#     version after a rotation (rewrap), so data keys never leave Vault in clear during a rotation;
#   - reads the key's metadata (latest version, for readiness and rewrap progress);
#   - reads HubSpot client secrets kept in KV v2 under secret/tokenvault/
#     (tokenvault.apps.<app>.client-secret-vault-path).
#
# Deliberately absent: rotating, configuring, exporting, backing up or deleting the key
# (operators do that with their own token), datakey generation, listing, and any write to KV.
# Token renewal and lookup of its own token come from Vault's built-in "default" policy.

path "transit/encrypt/tokenvault" {
  capabilities = ["update"]
}

path "transit/decrypt/tokenvault" {
  capabilities = ["update"]
}

path "transit/rewrap/tokenvault" {
  capabilities = ["update"]
}

path "transit/keys/tokenvault" {
  capabilities = ["read"]
}

path "secret/data/tokenvault/*" {
  capabilities = ["read"]
}
