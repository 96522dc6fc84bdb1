-- The rewrap run of the whole deployment (one row): which replica runs it, how far it got. A POST to any replica
-- while a run is going returns this run's progress instead of starting a second one. The running replica moves
-- heartbeat_at with every page of keys; a run whose heartbeat is older than two minutes (its replica stopped) may be
-- taken over.
create table rewrap_run (
    id                 smallint primary key default 1 check (id = 1),
    state              text        not null check (state in ('running', 'done', 'failed')),
    owner              text        not null,
    target_key_version text,
    total              bigint,
    rewrapped          bigint      not null default 0,
    remaining          bigint,
    started_at         timestamptz not null,
    heartbeat_at       timestamptz not null,
    finished_at        timestamptz,
    error              text
);
