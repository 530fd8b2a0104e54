// The plan's funds before Approve (F2 owns this module): the wallet's balance, the plan's total with
// network fees, whether the wallet can pay it. PLACEHOLDER written by F1 so that the workflow page
// can call it; F2 replaces the body.
//
// The contract (frontend/src/pages/workflow.ts): called on every render of /workflow/<id> while the
// workflow is `planned`, always with the same `container` (a <div data-testid="plan-funds"> between
// the step list and Approve & start) and the newest view. It must be idempotent (fetch
// GET /api/workflows/{id}/funds once, or when the view changes, not on every call). The container is
// hidden once the workflow is no longer planned.

import type { WorkflowView } from '../types'
import type { PageContext } from './context'

export function renderPlanFunds(container: HTMLElement, view: WorkflowView, ctx: PageContext): void {
  void container
  void view
  void ctx
}
