import { createApp } from 'vue'
// The styles of the Vant functions called from scripts (templates get theirs by themselves).
import 'vant/es/toast/style'
import 'vant/es/dialog/style'
import './theme.css'
import App from './App.vue'
import { router } from './router'
import { registerOfflineShell } from './offline'

createApp(App).use(router).mount('#app')
registerOfflineShell()
