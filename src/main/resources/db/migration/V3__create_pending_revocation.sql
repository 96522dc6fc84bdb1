-- Refresh tokens of erased connections whose revocation at HubSpot failed, kept only until a retry succeeds.
-- Each is sealed under its own data key (wrapped by the key-encryption key), bound to app and portal.
create table pending_revocation (
    id              bigint generated always as identity primary key,
    app             text        not null,
    portal_id       bigint      not null,
    wrapped_key     text        not null,
    key_version     text        not null,
    ciphertext      bytea       not null,
    created_at      timestamptz not null,
    attempts        integer     not null default 0,
    next_attempt_at timestamptz not null,
    last_error      text
);

create index pending_revocation_due on pending_revocation (next_attempt_at);
