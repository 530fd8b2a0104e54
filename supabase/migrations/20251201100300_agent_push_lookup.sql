-- Agents' pushes (POST /api/agent/access) name the job by the agent's own id (`J1762754481290`):
-- find the orchestrator's step of that job without scanning step_results.
begin;

create index if not exists step_results_agent_job_id_idx
    on public.step_results (agent_job_id)
    where workflow_id is not null and agent_job_id is not null;

commit;
