import { inject, type App, type InjectionKey } from 'vue'
import type { ApiClient } from './client'

export const apiKey: InjectionKey<ApiClient> = Symbol('raftdesk-api')

export function provideApi(app: App, client: ApiClient): void {
  app.provide(apiKey, client)
}

export function useApi(): ApiClient {
  const client = inject(apiKey)
  if (!client) throw new Error('useApi() called without an API client provided')
  return client
}
