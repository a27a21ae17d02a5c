import { createPinia } from 'pinia'
import { createApp } from 'vue'
import App from './App.vue'
import { createApiClient } from './api/client'
import { provideApi } from './api/inject'
import { createAppI18n, systemLocale } from './i18n'
import './style.css'

const app = createApp(App)
provideApi(app, createApiClient(window.raftdesk))
app.use(createPinia())
app.use(createAppI18n(systemLocale(navigator.languages)))
app.mount('#app')
