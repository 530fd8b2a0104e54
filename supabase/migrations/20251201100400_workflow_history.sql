-- A person's workflows, newest first, a page at a time (GET /api/workflows): the orchestrator reads
-- `workflows` by user_id, ordered by (created_at, workflow_id) descending, from a keyset cursor.
-- Only an index: no column, constraint or row of the marketplace changes; running it again changes
-- nothing (the rules at the top of 20251201100100_orchestrator_columns.sql).
begin;

create index if not exists workflows_user_id_created_at_idx
    on public.workflows (user_id, created_at desc, workflow_id desc)
    where created_at is not null;

commit;
