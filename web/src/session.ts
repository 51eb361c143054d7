// Who is signed in: the token pair (kept in localStorage, so a phone stays signed in for the
// refresh token's 30 days) and the person with their roles.
import { reactive } from 'vue'

export interface Tokens {
  access_token: string
  refresh_token: string
  expires_in?: number
}

export type Role =
  | 'resident'
  | 'party_member'
  | 'grid_worker'
  | 'secretary'
  | 'shop_keeper'
  | 'township_admin'
  | 'county_admin'
  | 'super_admin'

export interface User {
  id: number
  display_name: string
  phone_masked: string | null
  home_branch_id: number | null
  roles: { role: Role; org_id: number }[]
}

const STORAGE_KEY = 'fivestar.session'
/** The person last signed in, for opening the page with no signal (me.ts). */
export const USER_KEY = 'fivestar.me'

function load(): Tokens | null {
  try {
    const raw = globalThis.localStorage?.getItem(STORAGE_KEY)
    return raw ? (JSON.parse(raw) as Tokens) : null
  } catch {
    return null
  }
}

export const session = reactive<{ tokens: Tokens | null; user: User | null }>({ tokens: load(), user: null })

export function saveTokens(tokens: Tokens, user?: User) {
  session.tokens = { access_token: tokens.access_token, refresh_token: tokens.refresh_token }
  if (user) session.user = user
  globalThis.localStorage?.setItem(STORAGE_KEY, JSON.stringify(session.tokens))
}

export function clearSession() {
  session.tokens = null
  session.user = null
  globalThis.localStorage?.removeItem(STORAGE_KEY)
  globalThis.localStorage?.removeItem(USER_KEY)
}

/** The org where the person holds `role` (the first, when several). */
export function orgOf(user: User | null, ...roles: Role[]): number | null {
  return user?.roles.find((r) => roles.includes(r.role))?.org_id ?? null
}

export function hasRole(user: User | null, ...roles: Role[]): boolean {
  return orgOf(user, ...roles) !== null
}

/** Member roles: the people who draw cards and spend points. */
export const MEMBER_ROLES: Role[] = ['resident', 'party_member']
export const STAFF_ROLES: Role[] = ['township_admin', 'county_admin', 'super_admin']
/** Who files incidents, and whose org's incident ledger a person reads. */
export const REPORTER_ROLES: Role[] = ['grid_worker', 'secretary']
export const LEDGER_ROLES: Role[] = ['grid_worker', 'secretary', 'township_admin', 'county_admin']
/** A counter is a shop's: its keeper, the branch's secretary, a township admin for the township's shop. */
export const COUNTER_ROLES: Role[] = ['shop_keeper', 'secretary', 'township_admin']
export const STAR_ROLES: Role[] = ['township_admin', 'county_admin']

/** The branch whose pool, board and shop the person uses. */
export function branchOf(user: User | null): number | null {
  return user?.home_branch_id ?? orgOf(user, 'secretary', 'shop_keeper')
}
