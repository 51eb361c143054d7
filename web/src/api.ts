// The server's JSON API under /api/v1: the bearer token, one refresh on a 401, and errors
// as `ApiError` carrying the server's Chinese `message` (CONTRACT.md, "Conventions").
import { session, saveTokens, clearSession, type Tokens } from './session'

export const API = '/api/v1'

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fields: Record<string, string> = {},
    readonly retryAfter: number | null = null,
  ) {
    super(message)
  }

  /** The request never reached the server, or its answer never came back. */
  get offline(): boolean {
    return this.status === 0
  }

  /** Worth sending again later, unchanged: no answer, too many requests, or a server fault. */
  get transient(): boolean {
    return this.status === 0 || this.status === 408 || this.status === 429 || this.status >= 500
  }
}

export const NETWORK_MESSAGE = '网络不可用，请检查网络后重试'

export interface Page<T> {
  items: T[]
  next_cursor: string | null
}

export interface RequestOptions {
  method?: string
  body?: unknown
  idempotencyKey?: string
  /** Without the Authorization header (login). */
  anonymous?: boolean
}

type Refreshed = 'renewed' | 'ended' | 'unreachable'
let refreshing: Promise<Refreshed> | null = null
let signedOut: () => void = () => {}

/** What to do when the session has ended on the server (the app goes to the login page). */
export function onSignedOut(handler: () => void) {
  signedOut = handler
}

/** One refresh at a time, shared by every request that met a 401 meanwhile. */
function refresh(): Promise<Refreshed> {
  const token = session.tokens?.refresh_token
  if (!token) return Promise.resolve('ended')
  refreshing ??= (async (): Promise<Refreshed> => {
    try {
      const res = await fetch(`${API}/auth/refresh`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ refresh_token: token }),
      })
      if (res.status === 401) return 'ended'
      if (!res.ok) return 'unreachable'
      saveTokens((await res.json()) as Tokens)
      return 'renewed'
    } catch {
      return 'unreachable'
    } finally {
      refreshing = null
    }
  })()
  return refreshing
}

/** A 401 on a signed-in request: renew the tokens, or end the session here too. */
async function renewed(): Promise<boolean> {
  const outcome = await refresh()
  if (outcome === 'renewed') return true
  if (outcome === 'unreachable') throw new ApiError(0, 'network', NETWORK_MESSAGE)
  clearSession()
  signedOut()
  return false
}

async function toError(res: Response): Promise<ApiError> {
  let body: { code?: string; message?: string; fields?: Record<string, string> } = {}
  try {
    body = await res.json()
  } catch {
    /* not JSON: a proxy's page */
  }
  const retry = Number(res.headers.get('retry-after'))
  return new ApiError(
    res.status,
    body.code ?? 'http_' + res.status,
    body.message ?? `服务器返回 ${res.status}，请稍后重试`,
    body.fields ?? {},
    Number.isFinite(retry) && retry > 0 ? retry : null,
  )
}

export async function request<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const send = () => {
    const headers: Record<string, string> = {}
    if (opts.body !== undefined) headers['content-type'] = 'application/json'
    if (opts.idempotencyKey) headers['idempotency-key'] = opts.idempotencyKey
    if (!opts.anonymous && session.tokens) headers.authorization = `Bearer ${session.tokens.access_token}`
    return fetch(API + path, {
      method: opts.method ?? (opts.body === undefined ? 'GET' : 'POST'),
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    })
  }
  const attempt = async () => {
    try {
      return await send()
    } catch {
      throw new ApiError(0, 'network', NETWORK_MESSAGE)
    }
  }
  let res = await attempt()
  if (res.status === 401 && !opts.anonymous && session.tokens && (await renewed())) {
    res = await attempt()
    // Renewed tokens refused as well: the session is over (revoked on the server).
    if (res.status === 401) {
      clearSession()
      signedOut()
    }
  }
  if (!res.ok) throw await toError(res)
  if (res.status === 204) return undefined as T
  return (await res.json()) as T
}

export const get = <T>(path: string) => request<T>(path)
export const post = <T>(path: string, body: unknown = {}, idempotencyKey?: string) =>
  request<T>(path, { method: 'POST', body, idempotencyKey })

export interface Media {
  id: number
  url: string
  thumbnail_url: string
  width: number
  height: number
}

/**
 * `POST /media` with the upload's progress (fetch cannot report it). Retries once after a
 * refresh on 401, like `request`.
 */
export function uploadMedia(blob: Blob, onProgress?: (fraction: number) => void): Promise<Media> {
  const once = () =>
    new Promise<{ status: number; body: string; retryAfter: string | null }>((resolve, reject) => {
      const xhr = new XMLHttpRequest()
      xhr.open('POST', `${API}/media`)
      if (session.tokens) xhr.setRequestHeader('authorization', `Bearer ${session.tokens.access_token}`)
      xhr.upload.onprogress = (e) => {
        if (e.lengthComputable && onProgress) onProgress(e.loaded / e.total)
      }
      xhr.onload = () =>
        resolve({ status: xhr.status, body: xhr.responseText, retryAfter: xhr.getResponseHeader('retry-after') })
      xhr.onerror = () => reject(new ApiError(0, 'network', NETWORK_MESSAGE))
      xhr.ontimeout = xhr.onerror
      xhr.timeout = 120_000
      const form = new FormData()
      form.append('file', blob, 'photo.jpg')
      xhr.send(form)
    })
  return (async () => {
    let res = await once()
    if (res.status === 401 && session.tokens && (await renewed())) res = await once()
    if (res.status === 201 || res.status === 200) return JSON.parse(res.body) as Media
    const headers = new Headers(res.retryAfter ? { 'retry-after': res.retryAfter } : {})
    throw await toError(new Response(res.body || null, { status: res.status, headers }))
  })()
}
