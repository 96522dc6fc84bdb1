-- Hand-outs that are identical but for their time (same caller, app, portal and outcome) and are written in the
-- same batch (at most one flush interval apart) are stored as one record: "at" is the first, "last_at" the last,
-- "count" how many. Every other action keeps one row per event. Existing rows are single events.
alter table audit_log
    add column count   integer not null default 1 check (count >= 1),
    add column last_at timestamptz;
