-- Hand-outs that are identical but for their time (same caller, app, portal, outcome and detail) and fall in the
-- same second of the same write batch are stored as one record: "at" is the first, "last_at" the last (null for a
-- single event), "count" how many. Every other action keeps one row per event. Existing rows are single events.
-- Adding a column with a constant default does not rewrite the table; the check is NOT VALID so that it does not
-- scan the existing rows (all 1) under an exclusive lock at start-up. It still holds for every new row.
alter table audit_log
    add column count   integer not null default 1,
    add column last_at timestamptz;
alter table audit_log
    add constraint audit_log_count_positive check (count >= 1) not valid;
