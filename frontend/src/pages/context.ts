import type { WalletManager } from '@txnlab/use-wallet'

import type { ApiClient } from '../api'
import type { RuntimeConfig } from '../config'

/** What every page gets from main.ts. */
export interface PageContext {
  config: RuntimeConfig
  api: ApiClient
  wallets: WalletManager
  navigate(path: string): void
}

/** A page puts itself into `root` and returns what undoes it (timers, subscriptions). */
export type Page = (root: HTMLElement, ctx: PageContext) => () => void
