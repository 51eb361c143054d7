// The unread count on the 消息 tab.
import { ref } from 'vue'
import { get } from './api'

export const unread = ref(0)

export async function refreshUnread() {
  try {
    const page = await get<{ unread_count: number }>('/me/notifications?unread=true&limit=1')
    unread.value = page.unread_count
  } catch {
    /* offline: keep the last count */
  }
}
