// A cursor-paged list for Vant's <van-list> (components/PagedList.vue): `load` fetches the
// next page when the list scrolls near its end; `reset` starts over (a filter changed, an
// item was added). Pages replace `items` whole, so shallow reactivity is all it needs.
import { shallowReactive } from 'vue'
import { get, ApiError, NETWORK_MESSAGE, type Page } from './api'

export interface Paged<T> {
  items: T[]
  loading: boolean
  finished: boolean
  /** The last page failed: the list shows "…，点击重试" and does not ask again by itself. */
  error: boolean
  /** Why it failed. */
  message: string
  load(): Promise<void>
  reset(): Promise<void>
}

export function usePaged<T>(path: () => string, limit = 20): Paged<T> {
  let cursor: string | null = null
  let generation = 0

  const list: Paged<T> = shallowReactive({
    items: [] as T[],
    loading: false,
    finished: false,
    error: false,
    message: '',
    async load() {
      const mine = generation
      list.loading = true
      try {
        const base = path()
        const more = cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''
        const page = await get<Page<T>>(`${base}${base.includes('?') ? '&' : '?'}limit=${limit}${more}`)
        if (mine !== generation) return
        list.items = [...list.items, ...page.items]
        cursor = page.next_cursor
        list.finished = !cursor
        list.error = false
      } catch (e) {
        if (mine !== generation) return
        list.error = true
        list.message = e instanceof ApiError ? e.message : NETWORK_MESSAGE
      } finally {
        if (mine === generation) list.loading = false
      }
    },
    async reset() {
      generation++
      cursor = null
      list.items = []
      list.finished = false
      list.error = false
      await list.load()
    },
  })
  return list
}
