-- The HubSpot rate budget of each (app, portal, kind), shared by every replica (dev.tokenvault.budget). A sliding
-- log: grants holds the time of every permit granted within the last interval (+ margin), epoch milliseconds of the
-- DATABASE clock, ascending, pruned on every write. A permit is granted only under this row's lock (select ... for
-- update, in a transaction of a few statements that never spans a HubSpot call) and only when the log then holds
-- fewer than calls grants, so no rolling interval ever holds more than calls grants, whichever replica granted them.
-- calls / interval_ms: learned from HubSpot's X-HubSpot-RateLimit-* headers (null: the configured values).
-- paused_until: after a HubSpot 429 no permit is granted before this instant (database clock).
create table rate_budget (
    app          text        not null,
    portal_id    bigint      not null,
    kind         text        not null check (kind in ('general', 'search')),
    grants       bigint[]    not null default '{}',
    calls        integer     check (calls >= 1),
    interval_ms  bigint      check (interval_ms >= 1),
    paused_until timestamptz,
    updated_at   timestamptz not null default clock_timestamp(),
    primary key (app, portal_id, kind)
);
