// The HTTP API's shapes (functions/openapi/openapi.json: WorkflowView, StepView, ErrorInfo).

export type WorkflowStatus = 'planned' | 'approved' | 'running' | 'completed' | 'failed' | 'cancelled'

export type StepStatus =
  | 'pending'
  | 'awaiting_payment'
  | 'payment_submitted'
  | 'running'
  | 'succeeded'
  | 'failed'
  | 'payment_timeout'
  | 'cancelled'

export interface ErrorInfo {
  code: string
  message: string
}

export interface PaymentReceipt {
  txn_ids: string[]
  confirmed_round: number
  amount_microalgo: number
  receiver: string
  /** Network fees the person paid in the group (from the confirmed transactions); absent on older APIs. */
  fee_microalgo?: number
}

export interface StepView {
  step_number: number
  agent_id: string
  agent_name: string
  description: string
  input_data: Record<string, unknown> | string
  status: StepStatus
  price_microalgo: number
  resolved_input?: string | null
  job_id?: string | null
  unsigned_group_txns?: string[]
  txn_ids?: string[]
  payment_required_microalgo?: number
  last_valid_round?: number | null
  receipt?: PaymentReceipt | null
  /** Payments for earlier jobs of this step that the agent could not deliver (kept, never lost). */
  earlier_receipts?: PaymentReceipt[]
  output?: unknown
  error?: ErrorInfo | null
  /** What the agent will get, in plain words (no template syntax); "" when the input is empty. */
  input_preview?: string
  started_at?: string | null
  completed_at?: string | null
}

export interface WorkflowView {
  workflow_id: string
  status: WorkflowStatus
  user_message: string
  wallet_address: string
  reasoning: string
  current_step: number
  total_cost_microalgo: number
  budget_microalgo: number | null
  attempt: number
  steps: StepView[]
  final_output?: unknown
  error?: ErrorInfo | null
  /** Amounts and fees of every receipt (earlier ones included); absent on older APIs. */
  total_paid_microalgo?: number
  /** A transaction's explorer page, `{txid}` to replace; null on the local stack. */
  explorer_txn_url?: string | null
  created_at: string
  updated_at: string
}

export const TERMINAL_WORKFLOW_STATUSES: ReadonlySet<WorkflowStatus> = new Set([
  'completed',
  'failed',
  'cancelled',
])

/** GET /api/workflows/{id}/funds: the wallet against the plan's price, network fees included. The
 * balance fields and `can_pay` are null when algod could not be read (then `message` says so). */
export interface FundsView {
  wallet_address: string
  network: string
  balance_microalgo: number | null
  min_balance_microalgo: number | null
  spendable_microalgo: number | null
  agents_microalgo: number
  fees_microalgo: number
  total_microalgo: number
  still_to_pay_microalgo: number
  can_pay: boolean | null
  shortfall_microalgo: number | null
  message: string
}

/** GET /api/agents: an active agent of the catalog. */
export interface AgentCard {
  id: string
  name: string
  description: string | null
  price_microalgo: number
  tags: string[]
  data_input: string | null
  example_input: string | null
}

/** GET /api/workflows: one of the caller's workflows, newest first. */
export interface WorkflowSummary {
  workflow_id: string
  status: WorkflowStatus
  user_message: string
  created_at: string
  updated_at: string
  total_cost_microalgo: number
  current_step: number
  step_count: number
}

export interface WorkflowList {
  workflows: WorkflowSummary[]
  next_cursor: string | null
}
