-- Transactional outbox of outgoing connection-event notifications (tokenvault.notify.url).
-- Rows are written in the same transaction as the change they announce, so a crash never loses one;
-- a retried delivery carries the same id.
create table notification_outbox (
    id              uuid        primary key,
    event           text        not null check (event in ('connection.installed', 'connection.needs_reauth',
                                                          'connection.recovered', 'connection.revoked')),
    app             text        not null,
    portal_id       bigint      not null,
    at              timestamptz not null,
    attempts        integer     not null default 0,
    next_attempt_at timestamptz not null,
    last_error      text,
    delivered_at    timestamptz,
    lease_owner     text,
    lease_until     timestamptz
);

create index notification_outbox_pending on notification_outbox (next_attempt_at) where delivered_at is null;
