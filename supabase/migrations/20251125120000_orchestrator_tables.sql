-- The orchestrator's tables: agents, workflows, step_results, jobs, payments, access_tokens.
--
-- The marketplace already has some of these tables. Every statement here is safe to run on them
-- and safe to run twice:
--   * `create table if not exists` gives a fresh database the full definition (NOT NULLs, keys);
--   * `alter table ... add column if not exists` adds what an existing table lacks. Columns added
--     that way are nullable (existing rows have no value for them); the store always writes them;
--   * constraints and keys are added by name only when missing (pg_temp helpers below). A check or
--     foreign key that existing rows break is kept NOT VALID: enforced for every new or changed row,
--     not for old rows (a NOTICE says so). A unique key that existing rows break stops the
--     migration: duplicates must be resolved by hand, never silently.
--
-- Types follow the orchestrator's models (layers/common/orchestrator/models.py): ids are text (the
-- models use strings; agent ids need not be uuids), plan/receipt/output/error and lists are jsonb,
-- amounts and rounds are bigint (µAlgo, rounds), times are timestamptz.
--
-- Agents are not referenced by foreign keys: the marketplace may retire or delete an agent, and the
-- history of workflows, steps and payments that used it must stay.

-- --- helpers (session-local, gone when the migration's connection closes) ---------------------------

create or replace function pg_temp.ensure_constraint(tbl regclass, name text, definition text)
returns void
language plpgsql
as $$
begin
    if exists (select 1 from pg_constraint where conrelid = tbl and conname = name) then
        return;
    end if;
    execute format('alter table %s add constraint %I %s not valid', tbl, name, definition);
    begin
        execute format('alter table %s validate constraint %I', tbl, name);
    exception when check_violation or foreign_key_violation then
        raise notice 'constraint %.% is enforced for new rows only: existing rows break it (%)',
            tbl, name, sqlerrm;
    end;
end;
$$;

-- A unique key on exactly `columns` (the primary key counts), added when none exists.
create or replace function pg_temp.ensure_unique(tbl regclass, name text, columns text[])
returns void
language plpgsql
as $$
begin
    if exists (
        select 1
        from pg_constraint c
        where c.conrelid = tbl
          and c.contype in ('p', 'u')
          and (
              select array_agg(a.attname::text order by a.attname)
              from unnest(c.conkey) as k(attnum)
              join pg_attribute a on a.attrelid = tbl and a.attnum = k.attnum
          ) = (select array_agg(x order by x) from unnest(columns) as x)
    ) then
        return;
    end if;
    execute format(
        'alter table %s add constraint %I unique (%s)',
        tbl, name, (select string_agg(format('%I', x), ', ') from unnest(columns) as x)
    );
end;
$$;

-- --- agents: the marketplace catalog -----------------------------------------------------------------

create table if not exists public.agents (
    id text primary key,
    name text not null,
    description text not null default '',
    capabilities jsonb not null default '[]'::jsonb,
    price_microalgo bigint not null default 0,
    address text not null default '',
    app_id bigint,
    base_url text,
    subdomain text,
    is_active boolean not null default true,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
alter table public.agents
    add column if not exists name text,
    add column if not exists description text default '',
    add column if not exists capabilities jsonb default '[]'::jsonb,
    add column if not exists price_microalgo bigint default 0,
    add column if not exists address text default '',
    add column if not exists app_id bigint,
    add column if not exists base_url text,
    add column if not exists subdomain text,
    add column if not exists is_active boolean default true,
    add column if not exists created_at timestamptz default now(),
    add column if not exists updated_at timestamptz default now();
select pg_temp.ensure_unique('public.agents', 'agents_id_key', array['id']);
select pg_temp.ensure_constraint('public.agents', 'agents_price_microalgo_nonnegative',
    'check (price_microalgo >= 0)');
select pg_temp.ensure_constraint('public.agents', 'agents_app_id_nonnegative', 'check (app_id >= 0)');
select pg_temp.ensure_constraint('public.agents', 'agents_capabilities_is_array',
    'check (jsonb_typeof(capabilities) = ''array'')');
-- list_agents(active_only=True): `is_active = true order by id`.
create index if not exists agents_active_id_idx on public.agents (id) where is_active;

-- --- workflows -------------------------------------------------------------------------------------

create table if not exists public.workflows (
    id text primary key,
    user_id text not null,
    wallet_address text not null,
    user_message text not null,
    plan jsonb not null,
    status text not null default 'planned',
    current_step integer not null default 1,
    total_cost_microalgo bigint not null default 0,
    budget_microalgo bigint,
    attempt integer not null default 0,
    execution_arn text,
    final_output jsonb,
    error jsonb,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
alter table public.workflows
    add column if not exists user_id text,
    add column if not exists wallet_address text,
    add column if not exists user_message text,
    add column if not exists plan jsonb,
    add column if not exists status text default 'planned',
    add column if not exists current_step integer default 1,
    add column if not exists total_cost_microalgo bigint default 0,
    add column if not exists budget_microalgo bigint,
    add column if not exists attempt integer default 0,
    add column if not exists execution_arn text,
    add column if not exists final_output jsonb,
    add column if not exists error jsonb,
    add column if not exists created_at timestamptz default now(),
    add column if not exists updated_at timestamptz default now();
select pg_temp.ensure_unique('public.workflows', 'workflows_id_key', array['id']);
-- WorkflowStatus (models.py).
select pg_temp.ensure_constraint('public.workflows', 'workflows_status_valid',
    'check (status in (''planned'', ''approved'', ''running'', ''completed'', ''failed'', ''cancelled''))');
select pg_temp.ensure_constraint('public.workflows', 'workflows_current_step_positive',
    'check (current_step >= 1)');
select pg_temp.ensure_constraint('public.workflows', 'workflows_total_cost_nonnegative',
    'check (total_cost_microalgo >= 0)');
select pg_temp.ensure_constraint('public.workflows', 'workflows_budget_nonnegative',
    'check (budget_microalgo >= 0)');
select pg_temp.ensure_constraint('public.workflows', 'workflows_attempt_nonnegative',
    'check (attempt >= 0)');
-- The RLS policies filter on user_id; the sweeper lists workflows by status.
create index if not exists workflows_user_id_idx on public.workflows (user_id);
create index if not exists workflows_status_idx on public.workflows (status);

-- --- step_results: one row per planned step ------------------------------------------------------------

create table if not exists public.step_results (
    id text primary key,
    workflow_id text not null,
    step_number integer not null,
    agent_id text not null,
    status text not null default 'pending',
    input text,
    job_id text,
    unsigned_group_txns jsonb not null default '[]'::jsonb,
    txn_ids jsonb not null default '[]'::jsonb,
    price_microalgo bigint not null default 0,
    payment_required_microalgo bigint not null default 0,
    last_valid_round bigint,
    receipt jsonb,
    output jsonb,
    error jsonb,
    task_token text,  -- secret: not readable by users (see the access migration)
    poll_errors integer not null default 0,
    poll_deadline timestamptz,
    started_at timestamptz,
    completed_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
alter table public.step_results
    add column if not exists workflow_id text,
    add column if not exists step_number integer,
    add column if not exists agent_id text,
    add column if not exists status text default 'pending',
    add column if not exists input text,
    add column if not exists job_id text,
    add column if not exists unsigned_group_txns jsonb default '[]'::jsonb,
    add column if not exists txn_ids jsonb default '[]'::jsonb,
    add column if not exists price_microalgo bigint default 0,
    add column if not exists payment_required_microalgo bigint default 0,
    add column if not exists last_valid_round bigint,
    add column if not exists receipt jsonb,
    add column if not exists output jsonb,
    add column if not exists error jsonb,
    add column if not exists task_token text,
    add column if not exists poll_errors integer default 0,
    add column if not exists poll_deadline timestamptz,
    add column if not exists started_at timestamptz,
    add column if not exists completed_at timestamptz,
    add column if not exists created_at timestamptz default now(),
    add column if not exists updated_at timestamptz default now();
select pg_temp.ensure_unique('public.step_results', 'step_results_id_key', array['id']);
-- One row per step of a workflow; also the index of list_steps/get_step/update_step.
select pg_temp.ensure_unique('public.step_results', 'step_results_workflow_id_step_number_key',
    array['workflow_id', 'step_number']);
select pg_temp.ensure_constraint('public.step_results', 'step_results_workflow_id_fkey',
    'foreign key (workflow_id) references public.workflows (id) on delete cascade');
-- StepStatus (models.py).
select pg_temp.ensure_constraint('public.step_results', 'step_results_status_valid',
    'check (status in (''pending'', ''awaiting_payment'', ''payment_submitted'', ''running'', '
    '''succeeded'', ''failed'', ''payment_timeout'', ''cancelled''))');
select pg_temp.ensure_constraint('public.step_results', 'step_results_step_number_positive',
    'check (step_number >= 1)');
select pg_temp.ensure_constraint('public.step_results', 'step_results_price_nonnegative',
    'check (price_microalgo >= 0)');
select pg_temp.ensure_constraint('public.step_results', 'step_results_payment_required_nonnegative',
    'check (payment_required_microalgo >= 0)');
select pg_temp.ensure_constraint('public.step_results', 'step_results_poll_errors_nonnegative',
    'check (poll_errors >= 0)');
select pg_temp.ensure_constraint('public.step_results', 'step_results_txn_lists_are_arrays',
    'check (jsonb_typeof(unsigned_group_txns) = ''array'' and jsonb_typeof(txn_ids) = ''array'')');

-- --- jobs: agent jobs started for steps --------------------------------------------------------------
-- The marketplace's own jobs (direct hires) have no workflow: workflow_id/step_number stay null for
-- them when this table already exists, and the keys and foreign keys below ignore such rows.

create table if not exists public.jobs (
    job_id text not null,
    workflow_id text not null,
    step_number integer not null,
    agent_id text not null,
    status text not null default 'started',
    created_at timestamptz not null default now(),
    primary key (workflow_id, step_number, job_id)
);
alter table public.jobs
    add column if not exists job_id text,
    add column if not exists workflow_id text,
    add column if not exists step_number integer,
    add column if not exists agent_id text,
    add column if not exists status text default 'started',
    add column if not exists created_at timestamptz default now();
-- record_job upserts on this key.
select pg_temp.ensure_unique('public.jobs', 'jobs_workflow_id_step_number_job_id_key',
    array['workflow_id', 'step_number', 'job_id']);
select pg_temp.ensure_constraint('public.jobs', 'jobs_step_fkey',
    'foreign key (workflow_id, step_number) references public.step_results (workflow_id, step_number) '
    'on delete cascade');

-- --- payments: confirmed transactions, one row per txid ---------------------------------------------------
-- txid is unique: a transaction pays for one step only (the replay rule). `seq` keeps the order in
-- which a step's transactions were recorded (the group order the agent expects back).

create table if not exists public.payments (
    txid text primary key,
    workflow_id text not null,
    step_number integer not null,
    agent_id text not null,
    job_id text,
    amount_microalgo bigint not null,
    receiver text not null,
    confirmed_round bigint not null,
    seq bigint generated by default as identity,
    created_at timestamptz not null default now()
);
alter table public.payments
    add column if not exists txid text,
    add column if not exists workflow_id text,
    add column if not exists step_number integer,
    add column if not exists agent_id text,
    add column if not exists job_id text,
    add column if not exists amount_microalgo bigint,
    add column if not exists receiver text,
    add column if not exists confirmed_round bigint,
    add column if not exists seq bigint generated by default as identity,
    add column if not exists created_at timestamptz default now();
select pg_temp.ensure_unique('public.payments', 'payments_txid_key', array['txid']);
select pg_temp.ensure_constraint('public.payments', 'payments_step_fkey',
    'foreign key (workflow_id, step_number) references public.step_results (workflow_id, step_number) '
    'on delete cascade');
select pg_temp.ensure_constraint('public.payments', 'payments_amount_nonnegative',
    'check (amount_microalgo >= 0)');
select pg_temp.ensure_constraint('public.payments', 'payments_confirmed_round_nonnegative',
    'check (confirmed_round >= 0)');
-- payments_for_step: `workflow_id = ? and step_number = ? order by seq`.
create index if not exists payments_workflow_id_step_number_seq_idx
    on public.payments (workflow_id, step_number, seq);

-- --- access_tokens: the agents' access tokens (secret) -------------------------------------------------

create table if not exists public.access_tokens (
    workflow_id text not null,
    step_number integer not null,
    job_id text not null,
    token text not null,
    created_at timestamptz not null default now(),
    primary key (workflow_id, step_number, job_id)
);
alter table public.access_tokens
    add column if not exists workflow_id text,
    add column if not exists step_number integer,
    add column if not exists job_id text,
    add column if not exists token text,
    add column if not exists created_at timestamptz default now();
-- save_access_token upserts on this key.
select pg_temp.ensure_unique('public.access_tokens', 'access_tokens_workflow_id_step_number_job_id_key',
    array['workflow_id', 'step_number', 'job_id']);
select pg_temp.ensure_constraint('public.access_tokens', 'access_tokens_step_fkey',
    'foreign key (workflow_id, step_number) references public.step_results (workflow_id, step_number) '
    'on delete cascade');
