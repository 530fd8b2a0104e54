// Where the page gets the person's access token. Every API call sends it as
// `Authorization: Bearer <token>` (api.ts). This is the one file to change for production
// sign-in: with Supabase Auth, for instance,
//
//   import { createClient } from '@supabase/supabase-js'
//   const supabase = createClient(SUPABASE_URL, SUPABASE_ANON_KEY)
//   export async function getAccessToken(): Promise<string | null> {
//     const { data } = await supabase.auth.getSession()
//     return data.session?.access_token ?? null
//   }
//
// On the local stack, /config.json carries `devAccessToken`, minted for the dev user by `orch up`.
// Tokens are never shown on the page and never logged.

import type { RuntimeConfig } from './config'

let config: RuntimeConfig | null = null

export function configureAuth(runtime: RuntimeConfig): void {
  config = runtime
}

/** The access token to send, or null when nobody is signed in. */
export async function getAccessToken(): Promise<string | null> {
  return config?.devAccessToken ?? null
}
