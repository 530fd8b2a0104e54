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
  created_at: string
  updated_at: string
}

export const TERMINAL_WORKFLOW_STATUSES: ReadonlySet<WorkflowStatus> = new Set([
  'completed',
  'failed',
  'cancelled',
])
