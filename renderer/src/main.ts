import { createPinia } from 'pinia'
import { createApp } from 'vue'
import App from './App.vue'
import { createApiClient } from './api/client'
import { provideApi } from './api/inject'
import './style.css'

const app = createApp(App)
provideApi(app, createApiClient(window.raftdesk))
app.use(createPinia())
app.mount('#app')
