-- HubSpot webhook deliveries and uninstall events already processed, remembered by every replica so that a replayed
-- request or a HubSpot retry of a processed event is acknowledged without acting (dev.tokenvault.webhook).
-- key_hash is a SHA-256, never the signature itself:
--   kind 'delivery': of the decoded v3 signature and its X-HubSpot-Request-Timestamp (or of a legacy v1/v2 signature);
--     the primary key makes a concurrent second delivery of the same request lose the insert;
--   kind 'event': of an uninstall event's portalId, eventId and occurredAt.
-- Rows are deleted once expires_at has passed (a scheduled purge): a delivery outlives its timestamp window, an
-- event HubSpot's retry span.
create table webhook_delivery (
    app        text        not null,
    key_hash   bytea       not null check (length(key_hash) = 32),
    kind       text        not null check (kind in ('delivery', 'event')),
    seen_at    timestamptz not null,
    expires_at timestamptz not null,
    primary key (app, key_hash)
);

create index webhook_delivery_expires on webhook_delivery (expires_at);
