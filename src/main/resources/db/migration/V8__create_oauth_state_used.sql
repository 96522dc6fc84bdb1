-- OAuth install states are no longer stored when issued: a state is signed (HMAC-SHA256 under a key derived from the
-- app's client secret) and carries its issue time and the hash of its browser binding, so GET /oauth/{app}/install
-- writes nothing. Single use is enforced here: the first callback that presents a valid, unexpired state inserts the
-- SHA-256 of the state (on conflict: already used) and the row lives until the state would have expired anyway.
-- Rows are written only for states this service signed in the last 10 minutes, at most
-- tokenvault.oauth.callbacks-per-second per replica, and purged every minute once expired.
-- oauth_state (V1) is kept, unused by this version, so that replicas of the previous version keep working during a
-- rolling upgrade (their states are refused by this version and vice versa: such an install is started again); this
-- version still purges its expired rows. A later migration may drop it.
create table oauth_state_used (
    state_hash bytea       primary key,
    expires_at timestamptz not null
);

create index oauth_state_used_expires on oauth_state_used (expires_at);
