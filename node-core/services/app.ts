import type { AppInfo } from '../../contract'

export interface AppServiceOptions {
  name: string
  version: string
  host: AppInfo['host']
  dataDir: string
}

/** The `app/*` handlers. Host facts come in as options so the same code serves Electron and web. */
export function createAppHandlers(options: AppServiceOptions) {
  return {
    'app/info': (): AppInfo => ({
      name: options.name,
      version: options.version,
      platform: process.platform,
      host: options.host,
      dataDir: options.dataDir,
      versions: {
        node: process.versions.node,
        ...(process.versions.electron ? { electron: process.versions.electron } : {}),
        ...(process.versions.chrome ? { chrome: process.versions.chrome } : {}),
      },
    }),
  }
}
