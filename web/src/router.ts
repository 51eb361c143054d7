// Pages by address under /m/. Every page is its own chunk, so a resident's phone loads the
// login and home pages and not the county's charts.
import { createRouter, createWebHistory, type RouteLocationNormalized } from 'vue-router'
import { session, type Role, MEMBER_ROLES } from './session'
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
const REPORTERS: Role[] = ['grid_worker', 'secretary']
const LEDGER: Role[] = ['grid_worker', 'secretary', 'township_admin', 'county_admin']
// A counter is a shop's: its keeper, the branch's secretary, a township admin for the township's shop.
const COUNTER: Role[] = ['shop_keeper', 'secretary', 'township_admin']

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
    { path: '/report', component: () => import('./pages/Report.vue'), meta: { title: '事件上报', roles: REPORTERS } },
    { path: '/incidents', component: () => import('./pages/Incidents.vue'), meta: { title: '事件台账', roles: LEDGER } },
    { path: '/incidents/:id', component: () => import('./pages/Incident.vue'), meta: { title: '事件详情', child: true } },
    { path: '/review', component: () => import('./pages/Review.vue'), meta: { title: '任务审核', roles: REVIEWERS } },
    { path: '/publish', component: () => import('./pages/Publish.vue'), meta: { title: '发布任务', roles: REVIEWERS } },
    { path: '/counter', component: () => import('./pages/Counter.vue'), meta: { title: '兑换核销', roles: COUNTER } },
    { path: '/stars', component: () => import('./pages/Stars.vue'), meta: { title: '星级评定', roles: ['township_admin', 'county_admin'] } },
    { path: '/me', component: () => import('./pages/Me.vue'), meta: { title: '我的' } },
    { path: '/:rest(.*)*', component: () => import('./pages/NotFound.vue'), meta: { title: '页面不存在', public: true } },
  ],
  scrollBehavior: (_to, _from, saved) => saved ?? { top: 0 },
})

router.beforeEach(async (to: RouteLocationNormalized) => {
  if (to.meta.public) return true
  if (!session.tokens) return { path: '/login', query: { redirect: to.fullPath } }
  const user = await loadMe()
  if (!user) return { path: '/login', query: { redirect: to.fullPath } }
  const roles = to.meta.roles
  if (roles && !user.roles.some((r) => roles.includes(r.role))) return homeFor(user)
  return true
})

router.afterEach((to) => {
  document.title = to.meta.title === '五星支部' ? '五星支部' : `${to.meta.title} · 五星支部`
})
