// The runtime configuration: `/config.json`, deployed next to the site (the local stack serves one
// built from the running stack). Nothing here is baked into the build, so one build serves every
// environment.

export type NetworkName = 'localnet' | 'testnet' | 'mainnet'

export interface AlgodSettings {
  baseServer: string
  port: string | number
  token: string
}

export interface RuntimeConfig {
  /** Where the HTTP API lives; "" means the site's own origin. */
  apiBaseUrl: string
  network: NetworkName
  algod: AlgodSettings
  /** Local stack only: an access token for the dev user (see auth.ts). */
  devAccessToken?: string
}

export class ConfigError extends Error {}

const NETWORKS: readonly NetworkName[] = ['localnet', 'testnet', 'mainnet']

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** algosdk sets the URL's port from `port` even when it is "" (which drops a port written in
 * baseServer): a port given only inside baseServer is moved to `port`. */
function splitPort(baseServer: string, port: string | number, token: string): AlgodSettings {
  if (port !== '') return { baseServer, port, token }
  try {
    const url = new URL(baseServer)
    if (url.port) {
      const found = url.port
      url.port = ''
      return { baseServer: url.toString().replace(/\/+$/, ''), port: Number(found), token }
    }
  } catch {
    throw new ConfigError('config.json: algod.baseServer must be a URL')
  }
  return { baseServer, port, token }
}

/** Checks the shape of a parsed config.json; throws ConfigError naming the first bad field. */
export function parseConfig(raw: unknown): RuntimeConfig {
  if (!isRecord(raw)) throw new ConfigError('config.json is not a JSON object')
  const apiBaseUrl = raw.apiBaseUrl ?? ''
  if (typeof apiBaseUrl !== 'string') throw new ConfigError('config.json: apiBaseUrl must be a string')
  const network = raw.network
  if (typeof network !== 'string' || !NETWORKS.includes(network as NetworkName)) {
    throw new ConfigError(`config.json: network must be one of ${NETWORKS.join(', ')}`)
  }
  const algod = raw.algod
  if (!isRecord(algod) || typeof algod.baseServer !== 'string' || algod.baseServer === '') {
    throw new ConfigError('config.json: algod.baseServer is required')
  }
  const port = algod.port ?? ''
  if (typeof port !== 'string' && typeof port !== 'number') {
    throw new ConfigError('config.json: algod.port must be a string or a number')
  }
  const token = algod.token ?? ''
  if (typeof token !== 'string') throw new ConfigError('config.json: algod.token must be a string')
  const config: RuntimeConfig = {
    apiBaseUrl: apiBaseUrl.replace(/\/+$/, ''),
    network: network as NetworkName,
    algod: splitPort(algod.baseServer, port, token),
  }
  if (typeof raw.devAccessToken === 'string' && raw.devAccessToken !== '') {
    config.devAccessToken = raw.devAccessToken
  }
  return config
}

const CONFIG_URL = '/config.json'

export async function loadConfig(): Promise<RuntimeConfig> {
  let response: Response
  try {
    response = await fetch(CONFIG_URL, { cache: 'no-store', headers: { Accept: 'application/json' } })
  } catch {
    throw new ConfigError(`Cannot load ${CONFIG_URL}: the site's server cannot be reached.`)
  }
  if (!response.ok) throw new ConfigError(`Cannot load ${CONFIG_URL}: HTTP ${response.status}.`)
  let raw: unknown
  try {
    raw = await response.json()
  } catch {
    throw new ConfigError(`${CONFIG_URL} is not valid JSON.`)
  }
  return parseConfig(raw)
}
