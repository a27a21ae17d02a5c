/// <reference types="vite/client" />
import type { RaftdeskBridge } from '../../contract'

declare global {
  interface Window {
    /** Provided by preload in Electron, by the web-mode bridge script in a browser. */
    raftdesk?: RaftdeskBridge
  }
}

declare module '*.vue' {
  import type { DefineComponent } from 'vue'
  const component: DefineComponent<object, object, unknown>
  export default component
}
