-- What a Supabase project provides before any migration runs, for a plain PostgreSQL test cluster.
--
-- This file is NOT a migration and is never applied to Supabase: there these objects exist
-- already (created by Supabase's own setup). It stands in for them so that the migrations in
-- supabase/migrations/ meet the same roles, grants and auth functions as in production:
--   * the API roles: anon and authenticated (PostgREST switches to them per request from the JWT's
--     `role`), service_role (the service key; BYPASSRLS), authenticator (PostgREST's login role);
--   * Supabase's default privileges: ALL on every new table, sequence and function in `public` for
--     anon, authenticated and service_role. That generosity is why the migrations must revoke and
--     rely on RLS, and the tests check them against it;
--   * schema `auth` with auth.uid(), auth.role() and auth.jwt() reading the JWT claims PostgREST
--     puts in the `request.jwt.claims` setting, as Supabase defines them;
--   * auth.users, keyed by `id uuid` as Supabase has it (the marketplace's user_id columns reference
--     it), with a few of Supabase's other columns; no API role may read it.
-- Tests act as a user with `set local role authenticated` plus
-- `select set_config('request.jwt.claims', '{"sub": "<uuid>", "role": "authenticated"}', true)`,
-- which is what PostgREST does for each request.

do $$
begin
    if not exists (select 1 from pg_roles where rolname = 'anon') then
        create role anon nologin noinherit;
    end if;
    if not exists (select 1 from pg_roles where rolname = 'authenticated') then
        create role authenticated nologin noinherit;
    end if;
    if not exists (select 1 from pg_roles where rolname = 'service_role') then
        create role service_role nologin noinherit bypassrls;
    end if;
    if not exists (select 1 from pg_roles where rolname = 'authenticator') then
        create role authenticator login noinherit;
    end if;
end;
$$;

grant anon, authenticated, service_role to authenticator;

grant usage on schema public to postgres, anon, authenticated, service_role;
alter default privileges in schema public grant all on tables to postgres, anon, authenticated, service_role;
alter default privileges in schema public grant all on sequences to postgres, anon, authenticated, service_role;
alter default privileges in schema public grant all on functions to postgres, anon, authenticated, service_role;

create schema if not exists auth;
grant usage on schema auth to anon, authenticated, service_role;

create or replace function auth.uid() returns uuid
language sql stable
as $$
    select coalesce(
        nullif(current_setting('request.jwt.claim.sub', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
    )::uuid
$$;

create or replace function auth.role() returns text
language sql stable
as $$
    select coalesce(
        nullif(current_setting('request.jwt.claim.role', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
    )::text
$$;

create or replace function auth.jwt() returns jsonb
language sql stable
as $$
    select coalesce(
        nullif(current_setting('request.jwt.claim', true), ''),
        nullif(current_setting('request.jwt.claims', true), '')
    )::jsonb
$$;

grant execute on function auth.uid(), auth.role(), auth.jwt() to anon, authenticated, service_role;

create table if not exists auth.users (
    instance_id uuid,
    id uuid not null primary key,
    aud varchar(255),
    role varchar(255),
    email varchar(255),
    encrypted_password varchar(255),
    email_confirmed_at timestamptz,
    raw_app_meta_data jsonb,
    raw_user_meta_data jsonb,
    created_at timestamptz,
    updated_at timestamptz
);
