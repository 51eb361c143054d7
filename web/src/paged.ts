// A cursor-paged list for Vant's <van-list>: `load` fetches the next page when the list
// scrolls near its end; `reset` starts over (pull to refresh, a filter changed).
import { ref, type Ref } from 'vue'
import { get, ApiError, type Page } from './api'

export function usePaged<T>(path: () => string, limit = 20) {
  const items = ref([]) as Ref<T[]>
  const loading = ref(false)
  const finished = ref(false)
  const error = ref(false)
  let cursor: string | null = null
  let generation = 0

  async function load() {
    const mine = generation
    loading.value = true
    try {
      const sep = path().includes('?') ? '&' : '?'
      const page = await get<Page<T>>(`${path()}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)
      if (mine !== generation) return
      items.value = [...items.value, ...page.items]
      cursor = page.next_cursor
      finished.value = !cursor
      error.value = false
    } catch (e) {
      if (mine === generation) error.value = !(e instanceof ApiError) || e.status !== 403
    } finally {
      if (mine === generation) loading.value = false
    }
  }

  async function reset() {
    generation++
    cursor = null
    items.value = []
    finished.value = false
    error.value = false
    await load()
  }

  return { items, loading, finished, error, load, reset }
}
