/** Electron entry point: one instance at a time, then the app. */
import { app } from 'electron'
import { startApp } from './app'

if (!app.requestSingleInstanceLock()) {
  app.quit()
} else {
  startApp().catch((err: unknown) => {
    console.error('raftdesk failed to start:', err)
    app.exit(1)
  })
}
