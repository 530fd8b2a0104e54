-- What the orchestrator adds to the marketplace's tables: nullable columns, constraints, indexes.
--
-- The same statements run on the marketplace's existing tables and on the ones the previous file
-- has just created, and running them again changes nothing. The rules:
--   * the marketplace's keys and columns are used as they are (workflows.workflow_id,
--     jobs.job_id, payments.payment_id, step_results.output as text, …): no parallel key, no renamed
--     copy of a column, no changed type, default or NOT NULL;
--   * every added column is nullable and has no default: the marketplace's rows keep NULL there
--     and the marketplace's inserts, which do not name these columns, keep working. The one
--     exception is payments.seq, an identity column (so NOT NULL, as identity columns are): adding
--     it numbers the existing rows once (a rewrite of payments) and later rows get the next number,
--     whoever inserts them;
--   * a check or foreign key is added by name when missing, first NOT VALID, then validated; if
--     existing rows break it, it stays NOT VALID (a NOTICE says so): enforced for every new or
--     changed row, old rows keep their values;
--   * a unique key that existing rows break stops this file with a clear error: duplicates must be
--     resolved by hand, never silently. The file then leaves nothing applied.
-- Runs in one transaction: a failure leaves nothing of this file applied.

begin;

-- --- helpers (session-local; dropped at the end) ------------------------------------------------------

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
        raise notice 'constraint %.% is enforced for new and changed rows only: existing rows break it (%)',
            tbl, name, sqlerrm;
    end;
end;
$$;

-- A unique key on exactly `columns` (a primary key or unique constraint counts), added when none
-- exists. Existing duplicates stop the migration (and roll it back) with the offending key.
create or replace function pg_temp.ensure_unique(tbl regclass, name text, columns text[])
returns void
language plpgsql
as $$
declare
    duplicate text;
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
    begin
        execute format(
            'alter table %s add constraint %I unique (%s)',
            tbl, name, (select string_agg(format('%I', x), ', ') from unnest(columns) as x)
        );
    exception when unique_violation then
        get stacked diagnostics duplicate = pg_exception_detail;
        raise exception 'cannot add unique key %.% (%): existing rows share a key. %',
            tbl, name, array_to_string(columns, ', '), duplicate
            using errcode = 'unique_violation',
                  hint = 'Resolve the duplicate rows by hand, then run this migration again; '
                         'nothing of this migration was applied.';
    end;
end;
$$;

-- --- agents ----------------------------------------------------------------------------------------

alter table public.agents
    add column if not exists base_url text;  -- a local override of the URL built from `subdomain`

-- The catalog: `status = 'active' order by id`.
create index if not exists agents_active_id_idx on public.agents (id) where status = 'active';

-- --- workflows (key workflow_id) ----------------------------------------------------------------------

alter table public.workflows
    add column if not exists total_cost_microalgo bigint,
    add column if not exists budget_microalgo bigint,
    add column if not exists attempt integer,
    add column if not exists execution_arn text,
    add column if not exists final_output jsonb,
    add column if not exists error jsonb;

-- WorkflowStatus (orchestrator/models.py); the marketplace's own values are a subset.
select pg_temp.ensure_constraint('public.workflows', 'workflows_status_valid',
    'check (status in (''planned'', ''approved'', ''running'', ''completed'', ''failed'', ''cancelled''))');
-- The marketplace's default is 0 (not started).
select pg_temp.ensure_constraint('public.workflows', 'workflows_current_step_nonnegative',
    'check (current_step >= 0)');
select pg_temp.ensure_constraint('public.workflows', 'workflows_total_cost_nonnegative',
    'check (total_cost_microalgo >= 0)');
select pg_temp.ensure_constraint('public.workflows', 'workflows_budget_nonnegative',
    'check (budget_microalgo >= 0)');
select pg_temp.ensure_constraint('public.workflows', 'workflows_attempt_nonnegative',
    'check (attempt >= 0)');

-- The RLS policies filter on user_id; the sweeper lists workflows by status.
create index if not exists workflows_user_id_idx on public.workflows (user_id);
create index if not exists workflows_status_idx on public.workflows (status);

-- --- step_results: one row per planned step -----------------------------------------------------------
-- The marketplace's job_id (→ jobs), agent_job_id (the agent's own job id), agent_name,
-- unsigned_group_txns, txn_ids, output (text) and completed_at are used as they are. The store
-- writes a text output as it is (output_format 'text') and any other output as JSON text
-- (output_format 'json'). The marketplace's access_token column stays unused by the orchestrator,
-- which keeps agents' access tokens in access_tokens.

alter table public.step_results
    add column if not exists input text,
    add column if not exists output_format text,
    add column if not exists price_microalgo bigint,
    add column if not exists payment_required_microalgo bigint,
    add column if not exists last_valid_round bigint,
    add column if not exists receipt jsonb,
    -- receipts of earlier jobs of the step the agent could not deliver (the person agreed to pay anew)
    add column if not exists earlier_receipts jsonb,
    add column if not exists error jsonb,
    add column if not exists task_token text,  -- secret: not readable by users (next file)
    add column if not exists payment_redeliveries integer,
    add column if not exists poll_errors integer,
    add column if not exists poll_deadline timestamptz,
    add column if not exists started_at timestamptz,
    add column if not exists updated_at timestamptz;

-- One row per step of a workflow; also the index of list_steps/get_step/update_step.
select pg_temp.ensure_unique('public.step_results', 'step_results_workflow_id_step_number_key',
    array['workflow_id', 'step_number']);
-- StepStatus (orchestrator/models.py).
select pg_temp.ensure_constraint('public.step_results', 'step_results_status_valid',
    'check (status in (''pending'', ''awaiting_payment'', ''payment_submitted'', ''running'', '
    '''succeeded'', ''failed'', ''payment_timeout'', ''cancelled''))');
select pg_temp.ensure_constraint('public.step_results', 'step_results_output_format_valid',
    'check (output_format in (''text'', ''json''))');
select pg_temp.ensure_constraint('public.step_results', 'step_results_step_number_positive',
    'check (step_number >= 1)');
select pg_temp.ensure_constraint('public.step_results', 'step_results_price_nonnegative',
    'check (price_microalgo >= 0)');
select pg_temp.ensure_constraint('public.step_results', 'step_results_payment_required_nonnegative',
    'check (payment_required_microalgo >= 0)');

-- --- jobs (key job_id): agent jobs started for steps ----------------------------------------------------
-- The orchestrator writes the marketplace's columns too (requester_addr, callee_addr, job_input as
-- a JSON string, job_input_hash, amount_microalgo, state, txid, group_id) and upserts on job_id.
-- The marketplace's own jobs (direct hires) keep workflow_id/step_number NULL.

alter table public.jobs
    add column if not exists workflow_id uuid,
    add column if not exists step_number integer,
    add column if not exists agent_job_id text,  -- the agent's own job id (e.g. J1762754481290)
    -- The group the job offered for signing, remembered until its window has passed: a payment
    -- confirmed on chain is found and delivered even when nobody submitted it.
    add column if not exists unsigned_group_txns jsonb,
    add column if not exists txn_ids jsonb,
    add column if not exists last_valid_round bigint;

select pg_temp.ensure_constraint('public.jobs', 'jobs_workflow_id_fkey',
    'foreign key (workflow_id) references public.workflows (workflow_id) on delete cascade');
create index if not exists jobs_workflow_id_step_number_idx on public.jobs (workflow_id, step_number);

-- --- payments (key payment_id): confirmed transactions, one row per txid ---------------------------------
-- `seq` keeps the order in which a step's transactions were recorded (the group order the agent
-- expects back). The store inserts all rows of a step in one statement and takes a unique
-- violation (23505) for a replay.

alter table public.payments
    add column if not exists workflow_id uuid,
    add column if not exists step_number integer,
    add column if not exists confirmed_round bigint,
    add column if not exists seq bigint generated by default as identity;

select pg_temp.ensure_constraint('public.payments', 'payments_workflow_id_fkey',
    'foreign key (workflow_id) references public.workflows (workflow_id) on delete cascade');
-- A txid pays for one step only (the replay rule). Partial: the marketplace's own rows (no
-- workflow) keep whatever txids they have, duplicates included, and never clash with ours.
create unique index if not exists payments_orchestrator_txid_key
    on public.payments (txid) where workflow_id is not null;
-- payments_for_step: `workflow_id = ? and step_number = ? order by seq`.
create index if not exists payments_workflow_id_step_number_seq_idx
    on public.payments (workflow_id, step_number, seq);

-- --- access_tokens (key id): agents' access tokens (secret) -----------------------------------------------
-- The store upserts on (workflow_id, step_number, job_id), job_id being the agent's job id as the
-- marketplace keeps it. NULLs are distinct in a unique key: the marketplace's rows (no workflow)
-- never clash with each other or with ours.

alter table public.access_tokens
    add column if not exists workflow_id uuid,
    add column if not exists step_number integer;

select pg_temp.ensure_constraint('public.access_tokens', 'access_tokens_workflow_id_fkey',
    'foreign key (workflow_id) references public.workflows (workflow_id) on delete cascade');
select pg_temp.ensure_unique('public.access_tokens', 'access_tokens_workflow_id_step_number_job_id_key',
    array['workflow_id', 'step_number', 'job_id']);

drop function pg_temp.ensure_constraint(regclass, text, text);
drop function pg_temp.ensure_unique(regclass, text, text[]);

commit;
