// Pages by address under /m/. Every page is its own chunk, so a resident's phone loads the
// login and home pages and not the county's charts.
import { createRouter, createWebHistory, type RouteLocationNormalized } from 'vue-router'
import { session, MEMBER_ROLES, REPORTER_ROLES, LEDGER_ROLES, COUNTER_ROLES, STAR_ROLES, type Role, type User } from './session'
import { loadMe, homeFor } from './me'

declare module 'vue-router' {
  interface RouteMeta {
    title: string
    /** Shown to anyone signed in when absent. */
    roles?: Role[]
    public?: boolean
    /** A page reached from another (the nav bar gets a back arrow). */
    child?: boolean
  }
}

const REVIEWERS: Role[] = ['secretary']

export const router = createRouter({
  history: createWebHistory('/m/'),
  routes: [
    // The query goes along: the WeChat login code arrives as `/m/?code=…`.
    { path: '/', redirect: (to) => ({ path: homeFor(session.user), query: to.query }) },
    { path: '/login', component: () => import('./pages/Login.vue'), meta: { title: '登录', public: true } },
    { path: '/home', component: () => import('./pages/Home.vue'), meta: { title: '五星支部', roles: MEMBER_ROLES } },
    { path: '/cards/:id', component: () => import('./pages/Card.vue'), meta: { title: '任务卡', roles: MEMBER_ROLES, child: true } },
    { path: '/ledger', component: () => import('./pages/Ledger.vue'), meta: { title: '积分明细', child: true } },
    { path: '/board', component: () => import('./pages/Board.vue'), meta: { title: '排行榜' } },
    { path: '/shop', component: () => import('./pages/Shop.vue'), meta: { title: '积分超市', roles: MEMBER_ROLES } },
    { path: '/codes', component: () => import('./pages/Codes.vue'), meta: { title: '我的兑换码', child: true } },
    { path: '/inbox', component: () => import('./pages/Inbox.vue'), meta: { title: '消息' } },
    { path: '/report', component: () => import('./pages/Report.vue'), meta: { title: '事件上报', roles: REPORTER_ROLES } },
    { path: '/incidents', component: () => import('./pages/Incidents.vue'), meta: { title: '事件台账', roles: LEDGER_ROLES } },
    { path: '/incidents/:id', component: () => import('./pages/Incident.vue'), meta: { title: '事件详情', child: true } },
    { path: '/review', component: () => import('./pages/Review.vue'), meta: { title: '任务审核', roles: REVIEWERS } },
    { path: '/publish', component: () => import('./pages/Publish.vue'), meta: { title: '发布任务', roles: REVIEWERS } },
    { path: '/counter', component: () => import('./pages/Counter.vue'), meta: { title: '兑换核销', roles: COUNTER_ROLES } },
    { path: '/stars', component: () => import('./pages/Stars.vue'), meta: { title: '星级评定', roles: STAR_ROLES } },
    { path: '/me', component: () => import('./pages/Me.vue'), meta: { title: '我的' } },
    { path: '/:rest(.*)*', component: () => import('./pages/NotFound.vue'), meta: { title: '页面不存在', public: true } },
  ],
  scrollBehavior: (_to, _from, saved) => saved ?? { top: 0 },
})

/** Whether the person may open the page at this address (its `meta.roles`). */
function allowed(user: User | null, meta: RouteLocationNormalized['meta']): boolean {
  return !meta.roles || !!user?.roles.some((r) => meta.roles!.includes(r.role))
}

export function mayOpen(user: User | null, path: string): boolean {
  return allowed(user, router.resolve(path).meta)
}

router.beforeEach(async (to: RouteLocationNormalized) => {
  if (to.meta.public) return true
  if (!session.tokens) return { path: '/login', query: { redirect: to.fullPath } }
  const user = await loadMe()
  if (!user) return { path: '/login', query: { redirect: to.fullPath } }
  if (!allowed(user, to.meta)) return homeFor(user)
  return true
})

router.afterEach((to) => {
  document.title = to.meta.title === '五星支部' ? '五星支部' : `${to.meta.title} · 五星支部`
})
