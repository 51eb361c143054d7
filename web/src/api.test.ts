// The session's edge cases of `request`: an expired access token renewed once for all the
// requests that met it, a session ended on the server, and no signal while renewing.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { request, onSignedOut, ApiError } from './api'
import { session, saveTokens } from './session'

type Handler = (url: string, init: RequestInit) => Response | Promise<Response>

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } })

let calls: { url: string; auth: string | null }[]
function serve(handler: Handler) {
  vi.stubGlobal('fetch', async (url: string, init: RequestInit) => {
    const headers = new Headers(init.headers)
    calls.push({ url, auth: headers.get('authorization') })
    return handler(url, init)
  })
}

describe('request', () => {
  let signedOut: number

  beforeEach(() => {
    calls = []
    signedOut = 0
    onSignedOut(() => signedOut++)
    saveTokens({ access_token: 'old', refresh_token: 'r1' })
  })
  afterEach(() => vi.unstubAllGlobals())

  it('renews an expired token once for every request that met it, and sends them again', async () => {
    serve(async (url, init) => {
      if (url.endsWith('/auth/refresh')) {
        await new Promise((r) => setTimeout(r, 20))
        expect(JSON.parse(String(init.body))).toEqual({ refresh_token: 'r1' })
        return json(200, { access_token: 'new', refresh_token: 'r2' })
      }
      const auth = new Headers(init.headers).get('authorization')
      return auth === 'Bearer new' ? json(200, { ok: url }) : json(401, { code: 'unauthenticated', message: '请先登录' })
    })
    const answers = await Promise.all([request('/me'), request('/me/points'), request('/me/cards')])
    expect(answers).toEqual([{ ok: '/api/v1/me' }, { ok: '/api/v1/me/points' }, { ok: '/api/v1/me/cards' }])
    expect(calls.filter((c) => c.url.endsWith('/auth/refresh'))).toHaveLength(1)
    expect(session.tokens).toEqual({ access_token: 'new', refresh_token: 'r2' })
    expect(signedOut).toBe(0)
  })

  it('ends the session here when the server ended it', async () => {
    serve((url) =>
      url.endsWith('/auth/refresh')
        ? json(401, { code: 'refresh_token_reused', message: '登录已失效' })
        : json(401, { code: 'unauthenticated', message: '请先登录' }),
    )
    await expect(request('/me')).rejects.toMatchObject({ status: 401, code: 'unauthenticated', message: '请先登录' })
    expect(session.tokens).toBeNull()
    expect(signedOut).toBe(1)
  })

  it('keeps the session when the renewal could not reach the server', async () => {
    serve((url) => {
      if (url.endsWith('/auth/refresh')) throw new TypeError('Failed to fetch')
      return json(401, { code: 'unauthenticated', message: '请先登录' })
    })
    const err = (await request('/me').catch((e: unknown) => e)) as ApiError
    expect(err).toBeInstanceOf(ApiError)
    expect(err.offline).toBe(true)
    expect(session.tokens).toEqual({ access_token: 'old', refresh_token: 'r1' })
    expect(signedOut).toBe(0)
  })

  it("gives the server's code, message, fields and Retry-After, and sends the Idempotency-Key", async () => {
    serve((_url, init) => {
      expect(new Headers(init.headers).get('idempotency-key')).toBe('k-1')
      return new Response(JSON.stringify({ code: 'rate_limited', message: '操作太频繁', fields: { a: 'b' } }), {
        status: 429,
        headers: { 'content-type': 'application/json', 'retry-after': '30' },
      })
    })
    const err = (await request('/shop/items/1/redeem', { method: 'POST', body: { quantity: 1 }, idempotencyKey: 'k-1' }).catch((e: unknown) => e)) as ApiError
    expect(err).toMatchObject({ status: 429, code: 'rate_limited', message: '操作太频繁', fields: { a: 'b' }, retryAfter: 30 })
    expect(err.transient).toBe(true)
  })
})
