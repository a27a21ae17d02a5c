/**
 * The desktop app's menu bar: every command of the window with its accelerator, sent to the
 * window as an `app/menu` event (the same contract web mode serves, where no menu exists).
 * Edit keeps the platform's roles, so copy and paste work in every field; macOS gets its app
 * menu first.
 */
import type { EventEmitter } from 'node:events'
import type { MenuItemConstructorOptions } from 'electron'
import type { MenuCommand } from '../contract'

/** The menu bar's template; `menu` receives a 'command' event per click. */
export function menuTemplate(
  menu: EventEmitter,
  platform: NodeJS.Platform = process.platform,
): MenuItemConstructorOptions[] {
  const send = (command: MenuCommand) => () => void menu.emit('command', command)
  const item = (label: string, command: MenuCommand, accelerator?: string) => ({
    label,
    click: send(command),
    ...(accelerator ? { accelerator } : {}),
  })
  const views: [string, MenuCommand][] = [
    ['Keys', 'view:keys'],
    ['Watch', 'view:watch'],
    ['Leases', 'view:leases'],
    ['Access', 'view:access'],
    ['Cluster', 'view:cluster'],
    ['Raft', 'view:raft'],
    ['About', 'view:about'],
  ]
  const mac = platform === 'darwin'
  return [
    ...(mac ? [{ role: 'appMenu' as const }] : []),
    {
      label: 'File',
      submenu: [
        item('New Key…', 'new-key', 'CmdOrCtrl+N'),
        item('Import Keys…', 'import', 'CmdOrCtrl+O'),
        item('Export Prefix…', 'export', 'CmdOrCtrl+E'),
        { type: 'separator' },
        item('Connections…', 'connections', 'CmdOrCtrl+Shift+C'),
        { type: 'separator' },
        mac ? { role: 'close' } : { role: 'quit' },
      ],
    },
    { role: 'editMenu' },
    {
      label: 'View',
      submenu: [
        ...views.map(([label, command], i) => item(label, command, `CmdOrCtrl+${i + 1}`)),
        { type: 'separator' },
        item('Command Palette…', 'palette', 'CmdOrCtrl+K'),
        item('Reload Key Tree', 'reload', 'F5'),
        item('Switch Theme', 'theme', 'CmdOrCtrl+Shift+T'),
        { type: 'separator' },
        { role: 'resetZoom' },
        { role: 'zoomIn' },
        { role: 'zoomOut' },
        { type: 'separator' },
        { role: 'togglefullscreen' },
      ],
    },
    { role: 'windowMenu' },
  ]
}
