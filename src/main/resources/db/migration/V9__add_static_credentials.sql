-- Static credentials as first-class citizens: HubSpot service keys beside private-app tokens, and the replaced
-- static token kept sealed for a grace period so that an operator can roll a rotation back.

alter table connection drop constraint connection_auth_type_check;
alter table connection add constraint connection_auth_type_check
    check (auth_type in ('oauth', 'private_app', 'service_key'));

-- The static token this one replaced (sealed in secret as field previous_static_token): its kind, its scopes,
-- when it had been stored, and until when it may be restored. All null when there is none.
alter table connection add column previous_auth_type text
    check (previous_auth_type in ('private_app', 'service_key'));
alter table connection add column previous_scopes    text[];
alter table connection add column previous_stored_at timestamptz;
alter table connection add column previous_until     timestamptz;

-- the sweep that destroys previous tokens after their grace
create index connection_previous_until on connection (previous_until) where previous_until is not null;

alter table secret drop constraint secret_field_check;
alter table secret add constraint secret_field_check
    check (field in ('refresh_token', 'access_token', 'private_app_token', 'previous_static_token'));
