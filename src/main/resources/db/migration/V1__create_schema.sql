-- Token vault schema. Secrets are never stored in clear: see table secret and data_key.

-- One row per (app, portal): the credentials this service holds for it.
create table connection (
    id                bigint generated always as identity primary key,
    app               text        not null check (app ~ '^[a-z0-9-]{1,40}$'),
    portal_id         bigint      not null check (portal_id > 0),
    auth_type         text        not null check (auth_type in ('oauth', 'private_app')),
    status            text        not null check (status in ('active', 'needs_reauth')),
    scopes            text[]      not null default '{}',
    hub_domain        text,                 -- personal data: erased with the connection
    installed_by      text,                 -- installing user (email): personal data
    hubspot_app_id    bigint,
    installed_at      timestamptz not null,
    updated_at        timestamptz not null,
    access_expires_at timestamptz,          -- expiry of the stored access token (oauth)
    last_refresh_at   timestamptz,
    next_refresh_at   timestamptz,          -- when the refresher should refresh (null: never)
    lease_owner       text,                 -- replica holding the refresh lease
    lease_until       timestamptz,
    refresh_failures  integer     not null default 0,
    last_error        text,                 -- never a secret
    version           bigint      not null default 0,  -- optimistic concurrency
    constraint connection_app_portal unique (app, portal_id)
);

create index connection_due on connection (next_refresh_at)
    where status = 'active' and auth_type = 'oauth' and next_refresh_at is not null;
create index connection_app_status on connection (app, status, portal_id);

-- The connection's data key, wrapped by the key-encryption key (Vault Transit or the local key file).
-- Deleting this row crypto-shreds every copy of the connection's ciphertexts, backups included.
create table data_key (
    connection_id bigint      primary key references connection (id) on delete cascade,
    wrapped       text        not null,   -- vault:v3:... or local:k1a2b3c4d:...
    key_version   text        not null,   -- v3 / k1a2b3c4d
    created_at    timestamptz not null,
    rewrapped_at  timestamptz
);

create index data_key_version on data_key (key_version);

-- Secret fields sealed with AES-256-GCM under the connection's data key;
-- associated data binds each ciphertext to app, portal and field.
create table secret (
    connection_id bigint      not null references connection (id) on delete cascade,
    field         text        not null check (field in ('refresh_token', 'access_token', 'private_app_token')),
    ciphertext    bytea       not null,
    updated_at    timestamptz not null,
    primary key (connection_id, field)
);

-- OAuth install state: random, single use, short-lived, bound to the browser.
-- Only hashes are stored: a copy of this table cannot be used to forge a callback.
create table oauth_state (
    state_hash   bytea       primary key,
    app          text        not null,
    browser_hash bytea       not null,
    created_at   timestamptz not null,
    expires_at   timestamptz not null
);

create index oauth_state_expires on oauth_state (expires_at);

-- Audit trail: who did what to which portal, and how it ended. Never a token.
create table audit_log (
    id        bigint generated always as identity primary key,
    at        timestamptz not null,
    sub       text,
    app       text,
    portal_id bigint,
    action    text        not null,
    outcome   text        not null,
    detail    text
);

create index audit_log_at on audit_log (at desc, id desc);
create index audit_log_portal on audit_log (portal_id, at desc, id desc);
create index audit_log_sub on audit_log (sub, at desc, id desc);
