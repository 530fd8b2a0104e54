-- Who may read and write the six tables, and the RPC function.
--
-- The orchestrator's Lambdas (and the marketplace's server routes) use the service_role key
-- (BYPASSRLS, full privileges). Browsers use the anon key, with the user's JWT once signed in (role
-- `authenticated`, `auth.uid()` = the JWT's sub). Supabase grants ALL on every new public table and
-- function to anon and authenticated by default, so this file takes those grants back and gives
-- only what each role needs; RLS policies then pick the rows. Two locks on every door: without a
-- grant the privilege check fails, without a policy the row filter returns nothing.
--
--   agents          anon, authenticated: SELECT the active agents (owners also their own), every
--                   column except agent_token (the agent's secret)
--   workflows       authenticated: SELECT their own (user_id = auth.uid())
--   step_results    authenticated: SELECT the steps of their own workflows, every column except
--                   task_token and access_token (secrets)
--   jobs, payments  authenticated: SELECT the rows of their own workflows
--   access_tokens   authenticated: SELECT their own rows of the marketplace (workflow_id is null);
--                   the orchestrator's rows (workflow_id not null) are nobody's but service_role's
--   writes          service_role only: no INSERT/UPDATE/DELETE grant or policy for users
--
-- Each rule is a permissive policy (what a user may read) plus a restrictive one (the most a user
-- may ever read): the marketplace may have permissive policies of its own on these tables (any
-- such policy is OR-ed with ours), and the restrictive policies are AND-ed with all of them, so
-- no other policy can open the orchestrator's rows to other users. Where a row is the
-- marketplace's own and that is known (jobs, payments, access_tokens with no workflow_id), the
-- restrictive policy leaves it to the marketplace's policies.
--
-- Secret columns are hidden by column privileges rather than a view: SELECT is revoked on the
-- table and granted on each other column. The table stays the one place to read (RLS applies as
-- is, no security-definer view to bypass it), and a query that names a hidden column, or uses
-- `select=*`, is refused outright instead of silently returning it. Clients list the columns they
-- want. A column added to agents or step_results later must be granted by its own migration
-- (re-running this file does that too).
--
-- What this changes for the marketplace's existing clients (its browser code, anon key or a
-- signed-in user; its server routes use the service role and are unaffected):
--   * no browser writes to these tables any more (e.g. inserting an agent straight from the page;
--     the marketplace's deploy flow goes through its /api/agents route, which is unaffected);
--   * `select=*` on agents or step_results from a browser fails (permission denied): name the
--     columns; agents.agent_token, step_results.task_token/access_token are never readable there;
--   * browsers see active agents and their own agents only (a check such as "is this subdomain
--     taken?" must go through a server route to see other users' agents that are not active);
--   * workflows and their steps, jobs and payments are readable by their owner only
--     (workflows.user_id = auth.uid()); workflows without user_id (the marketplace's orchestrator
--     never sets it) are readable by no user, whatever the wallet address;
--   * access_tokens: a signed-in user reads their own rows (user_id = auth.uid()); anon reads none.
-- Runs in one transaction: a failure leaves nothing of this file applied.

begin;

-- --- privileges ----------------------------------------------------------------------------------------

revoke all on table
    public.agents, public.workflows, public.step_results, public.jobs, public.payments, public.access_tokens
    from anon, authenticated;

grant select, insert, update, delete on table
    public.agents, public.workflows, public.step_results, public.jobs, public.payments, public.access_tokens
    to service_role;

grant select on table public.workflows, public.jobs, public.payments, public.access_tokens to authenticated;

do $$
declare
    visible text;
begin
    select string_agg(format('%I', a.attname), ', ' order by a.attnum)
    into visible
    from pg_attribute a
    where a.attrelid = 'public.agents'::regclass
      and a.attnum > 0
      and not a.attisdropped
      and a.attname <> 'agent_token';
    execute format('grant select (%s) on table public.agents to anon, authenticated', visible);

    select string_agg(format('%I', a.attname), ', ' order by a.attnum)
    into visible
    from pg_attribute a
    where a.attrelid = 'public.step_results'::regclass
      and a.attnum > 0
      and not a.attisdropped
      and a.attname not in ('task_token', 'access_token');
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

-- `(select auth.uid())` is evaluated once per statement, not once per row (Supabase's advice).

drop policy if exists "orchestrator: active agents are public, owners see their own" on public.agents;
create policy "orchestrator: active agents are public, owners see their own" on public.agents
    as permissive for select to anon, authenticated
    using (status = 'active' or user_id = (select auth.uid()));
drop policy if exists "orchestrator: at most active agents and one's own" on public.agents;
create policy "orchestrator: at most active agents and one's own" on public.agents
    as restrictive for select to anon, authenticated
    using (status = 'active' or user_id = (select auth.uid()));

drop policy if exists "orchestrator: users read their own workflows" on public.workflows;
create policy "orchestrator: users read their own workflows" on public.workflows
    as permissive for select to authenticated
    using (user_id = (select auth.uid()));
drop policy if exists "orchestrator: at most one's own workflows" on public.workflows;
create policy "orchestrator: at most one's own workflows" on public.workflows
    as restrictive for select to anon, authenticated
    using (user_id = (select auth.uid()));

drop policy if exists "orchestrator: users read the steps of their workflows" on public.step_results;
create policy "orchestrator: users read the steps of their workflows" on public.step_results
    as permissive for select to authenticated
    using (exists (
        select 1 from public.workflows w
        where w.workflow_id = step_results.workflow_id and w.user_id = (select auth.uid())
    ));
drop policy if exists "orchestrator: at most the steps of one's own workflows" on public.step_results;
create policy "orchestrator: at most the steps of one's own workflows" on public.step_results
    as restrictive for select to anon, authenticated
    using (exists (
        select 1 from public.workflows w
        where w.workflow_id = step_results.workflow_id and w.user_id = (select auth.uid())
    ));

drop policy if exists "orchestrator: users read the jobs of their workflows" on public.jobs;
create policy "orchestrator: users read the jobs of their workflows" on public.jobs
    as permissive for select to authenticated
    using (exists (
        select 1 from public.workflows w
        where w.workflow_id = jobs.workflow_id and w.user_id = (select auth.uid())
    ));
drop policy if exists "orchestrator: workflow jobs at most to their owner" on public.jobs;
create policy "orchestrator: workflow jobs at most to their owner" on public.jobs
    as restrictive for select to anon, authenticated
    using (jobs.workflow_id is null or exists (
        select 1 from public.workflows w
        where w.workflow_id = jobs.workflow_id and w.user_id = (select auth.uid())
    ));

drop policy if exists "orchestrator: users read the payments of their workflows" on public.payments;
create policy "orchestrator: users read the payments of their workflows" on public.payments
    as permissive for select to authenticated
    using (exists (
        select 1 from public.workflows w
        where w.workflow_id = payments.workflow_id and w.user_id = (select auth.uid())
    ));
drop policy if exists "orchestrator: workflow payments at most to their owner" on public.payments;
create policy "orchestrator: workflow payments at most to their owner" on public.payments
    as restrictive for select to anon, authenticated
    using (payments.workflow_id is null or exists (
        select 1 from public.workflows w
        where w.workflow_id = payments.workflow_id and w.user_id = (select auth.uid())
    ));

drop policy if exists "orchestrator: users read their own marketplace access tokens" on public.access_tokens;
create policy "orchestrator: users read their own marketplace access tokens" on public.access_tokens
    as permissive for select to authenticated
    using (workflow_id is null and user_id = (select auth.uid()));
drop policy if exists "orchestrator: workflow access tokens are never users'" on public.access_tokens;
create policy "orchestrator: workflow access tokens are never users'" on public.access_tokens
    as restrictive for select to anon, authenticated
    using (workflow_id is null);

-- --- RPC: create a workflow and all its steps in one transaction ---------------------------------------------
-- Called by SupabaseStore.create_workflow as POST /rest/v1/rpc/orchestrator_create_workflow with
-- {"workflow": <workflow row as JSON>, "steps": [<step row as JSON>, ...]}, the keys being the
-- columns listed below (other keys are ignored). One HTTP request is one transaction: any failing
-- row (a bad status, a duplicate step) rolls the workflow back too. A NULL (or missing) value of a
-- column that has a default takes the default. SECURITY INVOKER and EXECUTE for service_role only:
-- even a mistaken grant to users would still meet the table privileges and RLS above.

create or replace function public.orchestrator_create_workflow(workflow jsonb, steps jsonb)
returns uuid
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
    if w.workflow_id is null then
        raise exception 'workflow.workflow_id is required' using errcode = '22023';
    end if;
    if exists (
        select 1 from jsonb_array_elements(steps) as s(step)
        where jsonb_typeof(s.step) is distinct from 'object'
           or (s.step ->> 'workflow_id')::uuid is distinct from w.workflow_id
    ) then
        raise exception 'every step must be an object with workflow_id %', w.workflow_id
            using errcode = '22023';
    end if;

    insert into public.workflows (
        workflow_id, user_id, user_message, wallet_address, plan, status, current_step,
        total_cost_microalgo, budget_microalgo, attempt, execution_arn, final_output, error, created_at,
        updated_at
    ) values (
        w.workflow_id, w.user_id, w.user_message, w.wallet_address, w.plan, coalesce(w.status, 'planned'),
        coalesce(w.current_step, 0), w.total_cost_microalgo, w.budget_microalgo, w.attempt,
        w.execution_arn, w.final_output, w.error, coalesce(w.created_at, now()),
        coalesce(w.updated_at, now())
    );

    insert into public.step_results (
        id, workflow_id, step_number, agent_id, agent_name, status, input, job_id, agent_job_id,
        unsigned_group_txns, txn_ids, price_microalgo, payment_required_microalgo, last_valid_round,
        receipt, earlier_receipts, output, output_format, error, task_token, payment_redeliveries,
        poll_errors, poll_deadline, started_at, completed_at, created_at, updated_at
    )
    select
        coalesce(s.id, gen_random_uuid()), s.workflow_id, s.step_number, s.agent_id, s.agent_name,
        coalesce(s.status, 'pending'), s.input, s.job_id, s.agent_job_id, s.unsigned_group_txns,
        s.txn_ids, s.price_microalgo, s.payment_required_microalgo, s.last_valid_round, s.receipt,
        s.earlier_receipts, s.output, s.output_format, s.error, s.task_token, s.payment_redeliveries,
        s.poll_errors, s.poll_deadline, s.started_at, s.completed_at, coalesce(s.created_at, now()),
        s.updated_at
    from jsonb_populate_recordset(null::public.step_results, steps) as s;

    return w.workflow_id;
end;
$$;

revoke execute on function public.orchestrator_create_workflow(jsonb, jsonb) from public, anon, authenticated;
grant execute on function public.orchestrator_create_workflow(jsonb, jsonb) to service_role;

commit;
