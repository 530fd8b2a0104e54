// A tiny HTTP server on 127.0.0.1 (port 0) for tests: records requests, answers from a handler.
import http from 'node:http'
import type { AddressInfo } from 'node:net'

export interface Recorded {
  method: string
  path: string
  headers: http.IncomingHttpHeaders
  body: string
}

export interface Answer {
  status?: number
  json?: unknown
  body?: string
  headers?: Record<string, string>
}

/** Answers a request, at once or later (a long poll holds it). */
export type Handler = (request: Recorded) => Answer | Promise<Answer>

export interface Loopback {
  url: string
  requests: Recorded[]
  close(): Promise<void>
}

export async function serve(handler: Handler): Promise<Loopback> {
  const requests: Recorded[] = []
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', async () => {
      const recorded = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString() }
      const cors = {
        'Access-Control-Allow-Origin': '*',
        'Access-Control-Allow-Headers': 'Authorization, Content-Type, Idempotency-Key, If-None-Match, X-Algo-API-Token',
        'Access-Control-Allow-Methods': 'GET, POST, OPTIONS',
        'Access-Control-Expose-Headers': 'ETag, Idempotent-Replayed',
      }
      if (recorded.method === 'OPTIONS') {
        res.writeHead(204, cors)
        res.end()
        return
      }
      requests.push(recorded)
      const answer = await handler(recorded)
      if (res.destroyed) return // the client gave up (an aborted long poll)
      const status = answer.status ?? 200
      res.writeHead(status, { 'Content-Type': 'application/json', ...cors, ...answer.headers })
      res.end(status === 304 ? undefined : (answer.body ?? JSON.stringify(answer.json ?? {})))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections() // requests still held (long polls) too
        server.close(() => resolve())
      }),
  }
}

/** algod on loopback: its current round, and no transaction known (404), as for an unpaid group. */
export function algodAt(round: number): Promise<Loopback> {
  return serve((r) => {
    if (r.path.startsWith('/v2/status')) {
      return {
        json: {
          'catchup-time': 0,
          'last-round': round,
          'last-version': 'v1',
          'next-version': 'v1',
          'next-version-round': round + 1,
          'next-version-supported': true,
          'stopped-at-unsupported-round': false,
          'time-since-last-round': 0,
        },
      }
    }
    return { status: 404, json: { message: 'txn does not exist' } }
  })
}
