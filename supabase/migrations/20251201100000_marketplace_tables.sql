-- The marketplace's own tables, for a database that does not have them yet.
--
-- In production the orchestrator attaches to the marketplace's EXISTING Supabase database, where
-- these six tables already exist: there every statement below is a no-op (`create table if not
-- exists` never touches an existing table, whatever its shape). On an empty database (a new
-- Supabase project, a test cluster) it creates them exactly as the marketplace has them: the same
-- columns, types, NOT NULLs, defaults, keys and foreign keys, with the names PostgreSQL gives them
-- (agents_pkey, agents_subdomain_key, …), so that the next migrations meet the same schema on
-- either kind of database. Source: the design's data model (the marketplace's database as it is),
-- checked against the marketplace's schema export (0rca-network/0rca-pod-v2, schema.sql).
--
-- Nothing here is the orchestrator's: its columns, constraints and indexes come in the next file,
-- the same way for a new and an existing table.
--
-- Notes on what the marketplace's schema does and does not say:
--   * varchar columns have no length (the export shows `character varying`; older marketplace
--     scripts used varchar(255)/(100)/(64), which accept less; nothing here depends on it);
--   * foreign keys have no ON DELETE action (the export shows none);
--   * jobs.token_id is a plain uuid: the marketplace has a `tokens` table (tokens.job_id → jobs),
--     but no foreign key from jobs.token_id to it, so none is created here either, whether or not
--     a public.tokens table exists.
-- Runs in one transaction: a failure leaves nothing of this file applied.

begin;

create table if not exists public.agents (
    id uuid not null default gen_random_uuid(),
    user_id uuid,
    name varchar not null,
    description text,
    subdomain varchar not null,
    repo_owner varchar not null,
    repo_name varchar not null,
    github_url text not null,
    -- pending, deploying, active, inactive, failed, deleted (no check in the marketplace)
    status varchar default 'pending',
    created_at timestamptz default now(),
    updated_at timestamptz default now(),
    agent_address text,  -- where payments go
    app_id bigint,
    price_microalgo bigint default 0,
    runtime_status text default 'inactive'
        check (runtime_status in ('active', 'inactive', 'error', 'maintenance')),
    category varchar default 'General',
    tags jsonb default '[]'::jsonb,
    data_input text,
    example_input text,
    example_output text,
    agent_token varchar,  -- the agent's secret (X-Agent-Token of its push calls)
    constraint agents_pkey primary key (id),
    constraint agents_subdomain_key unique (subdomain),
    constraint agents_agent_token_key unique (agent_token),
    constraint agents_user_id_fkey foreign key (user_id) references auth.users (id)
);

create table if not exists public.workflows (
    workflow_id uuid not null default gen_random_uuid(),
    user_id uuid,
    user_message text not null,
    wallet_address text not null,
    plan jsonb not null,
    current_step integer default 0,
    status text default 'planned',
    created_at timestamptz default now(),
    updated_at timestamptz default now(),
    constraint workflows_pkey primary key (workflow_id),
    constraint workflows_user_id_fkey foreign key (user_id) references auth.users (id)
);

create table if not exists public.jobs (
    job_id uuid not null default gen_random_uuid(),
    agent_id uuid,
    requester_addr text not null,
    callee_addr text,
    job_input jsonb not null,
    job_input_hash text not null,
    amount_microalgo bigint,
    state text not null check (state in (
        'prepared', 'payment_pending', 'onchain_confirmed', 'running', 'succeeded', 'failed', 'expired',
        'cancelled'
    )),
    txid text,
    group_id text,
    token_id uuid,  -- no foreign key, as in the marketplace (see above)
    created_at timestamptz default now(),
    updated_at timestamptz default now(),
    constraint jobs_pkey primary key (job_id),
    constraint jobs_agent_id_fkey foreign key (agent_id) references public.agents (id)
);

create table if not exists public.step_results (
    id uuid not null default gen_random_uuid(),
    workflow_id uuid,
    step_number integer not null,
    agent_id uuid,
    job_id uuid,
    status text default 'pending',
    access_token text,
    output text,
    created_at timestamptz default now(),
    completed_at timestamptz,
    agent_job_id text,
    agent_name text,
    unsigned_group_txns jsonb,
    txn_ids jsonb,
    constraint step_results_pkey primary key (id),
    constraint step_results_workflow_id_fkey foreign key (workflow_id) references public.workflows (workflow_id),
    constraint step_results_agent_id_fkey foreign key (agent_id) references public.agents (id),
    constraint step_results_job_id_fkey foreign key (job_id) references public.jobs (job_id)
);

create table if not exists public.payments (
    payment_id uuid not null default gen_random_uuid(),
    job_id uuid,
    agent_id uuid,
    payer_addr text not null,
    payee_addr text not null,
    amount_microalgo bigint not null,
    txid text not null,
    confirmed_at timestamptz default now(),
    constraint payments_pkey primary key (payment_id),
    constraint payments_job_id_fkey foreign key (job_id) references public.jobs (job_id),
    constraint payments_agent_id_fkey foreign key (agent_id) references public.agents (id)
);

create table if not exists public.access_tokens (
    id uuid not null default gen_random_uuid(),
    user_id uuid not null,
    wallet_address varchar not null,
    job_id varchar not null,  -- the agent's job id (e.g. J1762754481290), not a jobs row
    agent_id uuid,
    access_token varchar not null,
    job_input_hash varchar,
    job_output text,
    created_at timestamptz default now(),
    constraint access_tokens_pkey primary key (id),
    constraint access_tokens_agent_id_fkey foreign key (agent_id) references public.agents (id)
);

commit;
