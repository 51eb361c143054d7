import { createApp } from 'vue'
// The styles of the Vant functions called from scripts (templates get theirs by themselves).
import 'vant/es/toast/style'
import 'vant/es/dialog/style'
import './theme.css'
import App from './App.vue'
import { router } from './router'
import { registerOfflineShell } from './offline'
import { onSignedOut } from './api'

onSignedOut(() => {
  const here = router.currentRoute.value
  if (!here.meta.public) void router.replace({ path: '/login', query: { redirect: here.fullPath } })
})

createApp(App).use(router).mount('#app')
registerOfflineShell()
