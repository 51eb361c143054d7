// The page's one queue of incident reports, sending through the API; it sends when the
// network returns, on a timer while reports wait, and whenever the report page opens.
import { ref } from 'vue'
import { post, uploadMedia } from './api'
import { Queue, idbStore, type Draft } from './queue'
import { session } from './session'

export const queue = new Queue(idbStore(), {
  upload: (photo) => uploadMedia(photo),
  file: (body, key) => post<{ id: number; number: string }>('/incidents', body, key),
})

export const drafts = ref<Draft[]>([])

export async function refreshDrafts() {
  const user = session.user
  drafts.value = user ? await queue.list(user.id) : []
}

queue.onChange(() => void refreshDrafts())

export async function flush() {
  const user = session.user
  if (!user || !navigator.onLine) return null
  return queue.flush(user.id)
}

let started = false

/** Once per page load: send on reconnect and every 20 s while something waits. */
export function startSending() {
  if (started) return
  started = true
  window.addEventListener('online', () => void flush())
  setInterval(() => {
    if (drafts.value.some((d) => d.state === 'pending')) void flush()
  }, 20_000)
}
