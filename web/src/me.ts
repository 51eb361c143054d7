// The signed-in person, fetched once per session, and where each role starts.
import { get, ApiError } from './api'
import { session, clearSession, hasRole, MEMBER_ROLES, STAR_ROLES, USER_KEY, type User } from './session'

let loading: Promise<User | null> | null = null

export function loadMe(force = false): Promise<User | null> {
  if (session.user && !force) return Promise.resolve(session.user)
  loading ??= get<User>('/me')
    .then((user) => {
      rememberMe(user)
      return (session.user = user)
    })
    .catch((e) => {
      if (e instanceof ApiError && e.status === 401) clearSession()
      // Offline with a saved session: let the pages open (the report queue works offline).
      return e instanceof ApiError && e.offline && session.tokens ? offlineUser() : null
    })
    .finally(() => (loading = null))
  return loading
}

function offlineUser(): User | null {
  try {
    const raw = localStorage.getItem(USER_KEY)
    return raw ? (session.user = JSON.parse(raw) as User) : null
  } catch {
    return null
  }
}

export function rememberMe(user: User) {
  localStorage.setItem(USER_KEY, JSON.stringify(user))
}

export function homeFor(user: User | null): string {
  if (!user) return '/login'
  if (hasRole(user, ...MEMBER_ROLES)) return '/home'
  if (hasRole(user, 'grid_worker')) return '/report'
  if (hasRole(user, 'secretary')) return '/review'
  if (hasRole(user, ...STAR_ROLES)) return '/stars'
  if (hasRole(user, 'shop_keeper')) return '/counter'
  return '/me'
}

export interface Tab {
  path: string
  title: string
  icon: string
}

/** The bottom tabs a person sees: their roles' pages, at most five, 我的 last. */
export function tabsFor(user: User | null): Tab[] {
  const tabs: Tab[] = []
  const add = (path: string, title: string, icon: string) => {
    if (!tabs.some((t) => t.path === path)) tabs.push({ path, title, icon })
  }
  if (hasRole(user, ...MEMBER_ROLES)) {
    add('/home', '首页', 'home-o')
    add('/shop', '商城', 'shop-o')
  }
  if (hasRole(user, 'grid_worker')) {
    add('/report', '上报', 'warning-o')
    add('/incidents', '事件', 'todo-list-o')
  }
  if (hasRole(user, 'secretary')) {
    add('/review', '审核', 'passed')
    add('/publish', '发布', 'add-o')
  }
  if (hasRole(user, ...STAR_ROLES)) add('/stars', '星级', 'star-o')
  if (hasRole(user, 'shop_keeper')) add('/counter', '核销', 'scan')
  if (hasRole(user, ...MEMBER_ROLES, 'secretary')) add('/board', '排行', 'bar-chart-o')
  add('/inbox', '消息', 'bell')
  const mine = { path: '/me', title: '我的', icon: 'user-o' }
  return [...tabs.slice(0, 4), mine]
}
