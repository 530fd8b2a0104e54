-- Who may read and write the orchestrator's tables, and the RPC functions.
--
-- The orchestrator's Lambdas use the service_role key (BYPASSRLS, full privileges). Browsers use the
-- anon key, with the user's JWT once signed in (role `authenticated`, `auth.uid()` = the JWT's sub).
-- Supabase grants ALL on every new public table and function to anon and authenticated by default,
-- so this file takes those grants back and gives only what each role needs; RLS policies then pick
-- the rows. Two locks on every door: without a grant the privilege check fails, without a policy
-- the row filter returns nothing.
--
--   agents          anon, authenticated: SELECT the active agents
--   workflows       authenticated: SELECT their own (user_id = auth.uid())
--   step_results    authenticated: SELECT the steps of their own workflows, every column except
--                   task_token (column privileges; see below)
--   jobs, payments  authenticated: SELECT the rows of their own workflows
--   access_tokens   nobody but service_role (agents' access tokens are secrets)
--   writes          service_role only: no INSERT/UPDATE/DELETE grant or policy for users
--
-- Secret columns: step_results.task_token (a Step Functions task token) is hidden by column-level
-- privileges rather than a view: SELECT is revoked on the table and granted on each other column.
-- Why: the table stays the one place to read steps (RLS applies as is, no second object to keep in
-- step, no security-definer view that would bypass RLS), and a query that names task_token, or uses
-- `select=*`, is refused outright instead of silently returning a value. Clients list the columns
-- they want (`select=id,status,...`). A column added to step_results later must be granted to
-- `authenticated` by its own migration (re-running this file does that too).

-- --- privileges ----------------------------------------------------------------------------------------

revoke all on table
    public.agents, public.workflows, public.step_results, public.jobs, public.payments, public.access_tokens
    from anon, authenticated;

grant select, insert, update, delete on table
    public.agents, public.workflows, public.step_results, public.jobs, public.payments, public.access_tokens
    to service_role;

grant select on table public.agents to anon, authenticated;
grant select on table public.workflows, public.jobs, public.payments to authenticated;

do $$
declare
    visible text;
begin
    select string_agg(format('%I', a.attname), ', ' order by a.attnum)
    into visible
    from pg_attribute a
    where a.attrelid = 'public.step_results'::regclass
      and a.attnum > 0
      and not a.attisdropped
      and a.attname <> 'task_token';
    execute format('grant select (%s) on table public.step_results to authenticated', visible);
end;
$$;

-- --- row level security ----------------------------------------------------------------------------------

alter table public.agents enable row level security;
alter table public.workflows enable row level security;
alter table public.step_results enable row level security;
alter table public.jobs enable row level security;
alter table public.payments enable row level security;
alter table public.access_tokens enable row level security;
-- access_tokens: RLS on and no policy at all, on top of no grant.

drop policy if exists "orchestrator: active agents are public" on public.agents;
create policy "orchestrator: active agents are public" on public.agents
    for select to anon, authenticated
    using (is_active);

-- `(select auth.uid())` is evaluated once per statement, not once per row (Supabase's advice).
drop policy if exists "orchestrator: users read their own workflows" on public.workflows;
create policy "orchestrator: users read their own workflows" on public.workflows
    for select to authenticated
    using (user_id = (select auth.uid())::text);

drop policy if exists "orchestrator: users read the steps of their workflows" on public.step_results;
create policy "orchestrator: users read the steps of their workflows" on public.step_results
    for select to authenticated
    using (exists (
        select 1 from public.workflows w
        where w.id = step_results.workflow_id and w.user_id = (select auth.uid())::text
    ));

drop policy if exists "orchestrator: users read the jobs of their workflows" on public.jobs;
create policy "orchestrator: users read the jobs of their workflows" on public.jobs
    for select to authenticated
    using (exists (
        select 1 from public.workflows w
        where w.id = jobs.workflow_id and w.user_id = (select auth.uid())::text
    ));

drop policy if exists "orchestrator: users read the payments of their workflows" on public.payments;
create policy "orchestrator: users read the payments of their workflows" on public.payments
    for select to authenticated
    using (exists (
        select 1 from public.workflows w
        where w.id = payments.workflow_id and w.user_id = (select auth.uid())::text
    ));

-- --- RPC: create a workflow and all its steps in one transaction ---------------------------------------------
-- Called by SupabaseStore.create_workflow as POST /rest/v1/rpc/orchestrator_create_workflow with
-- {"workflow": <WorkflowRecord as JSON>, "steps": [<StepResult as JSON>, ...]}. One HTTP request is
-- one transaction: any failing row (a bad status, a duplicate step) rolls the workflow back too.
-- SECURITY INVOKER and EXECUTE for service_role only: even a mistaken grant to users would still
-- meet the table privileges and RLS above.

create or replace function public.orchestrator_create_workflow(workflow jsonb, steps jsonb)
returns text
language plpgsql
security invoker
set search_path = ''
as $$
declare
    w public.workflows;
begin
    if jsonb_typeof(workflow) is distinct from 'object' then
        raise exception 'workflow must be a JSON object' using errcode = '22023';
    end if;
    if jsonb_typeof(steps) is distinct from 'array' then
        raise exception 'steps must be a JSON array' using errcode = '22023';
    end if;
    w := jsonb_populate_record(null::public.workflows, workflow);
    if exists (
        select 1 from jsonb_array_elements(steps) as s(step)
        where jsonb_typeof(s.step) is distinct from 'object'
           or s.step ->> 'workflow_id' is distinct from w.id
    ) then
        raise exception 'every step must be an object with workflow_id %', w.id using errcode = '22023';
    end if;

    insert into public.workflows (
        id, user_id, wallet_address, user_message, plan, status, current_step, total_cost_microalgo,
        budget_microalgo, attempt, execution_arn, final_output, error, created_at, updated_at
    ) values (
        w.id, w.user_id, w.wallet_address, w.user_message, w.plan, coalesce(w.status, 'planned'),
        coalesce(w.current_step, 1), coalesce(w.total_cost_microalgo, 0), w.budget_microalgo,
        coalesce(w.attempt, 0), w.execution_arn, w.final_output, w.error,
        coalesce(w.created_at, now()), coalesce(w.updated_at, now())
    );

    insert into public.step_results (
        id, workflow_id, step_number, agent_id, status, input, job_id, unsigned_group_txns, txn_ids,
        price_microalgo, payment_required_microalgo, last_valid_round, receipt, output, error,
        task_token, poll_errors, poll_deadline, started_at, completed_at, created_at,
        updated_at
    )
    select
        s.id, s.workflow_id, s.step_number, s.agent_id, coalesce(s.status, 'pending'), s.input, s.job_id,
        coalesce(s.unsigned_group_txns, '[]'::jsonb), coalesce(s.txn_ids, '[]'::jsonb),
        coalesce(s.price_microalgo, 0), coalesce(s.payment_required_microalgo, 0), s.last_valid_round,
        s.receipt, s.output, s.error, s.task_token,
        coalesce(s.poll_errors, 0), s.poll_deadline, s.started_at, s.completed_at,
        coalesce(s.created_at, now()), coalesce(s.updated_at, now())
    from jsonb_populate_recordset(null::public.step_results, steps) as s;

    return w.id;
end;
$$;

revoke execute on function public.orchestrator_create_workflow(jsonb, jsonb) from public, anon, authenticated;
grant execute on function public.orchestrator_create_workflow(jsonb, jsonb) to service_role;
