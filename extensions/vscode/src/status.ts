// The status-bar item: what the server and the model are doing, derived from one state value
// by the pure `statusView` (unit-tested) and drawn by `StatusBar`.
import * as vscode from 'vscode';

export type ServerState =
    | { kind: 'stopped' }
    | { kind: 'starting' }
    | { kind: 'loading'; path: string | null; message?: string }
    | { kind: 'ready'; path: string | null; detail: string }
    | { kind: 'unconfigured'; detail: string }
    | { kind: 'error'; message: string };

export interface Busy {
    count: number;
    percent?: number;
    message?: string;
}

export interface StatusView {
    text: string;
    tooltip: string;
    ariaLabel: string;
    severity: 'ok' | 'warning' | 'error';
    /** what a click does */
    command: 'diffcoder.showLog' | 'diffcoder.openSettings';
}

function baseName(path: string | null): string {
    if (!path) return 'model';
    const parts = path.replace(/[\\/]+$/, '').split(/[\\/]/);
    return parts[parts.length - 1] || path;
}

export function statusView(state: ServerState, busy: Busy = { count: 0 }): StatusView {
    const log: StatusView['command'] = 'diffcoder.showLog';
    switch (state.kind) {
        case 'stopped':
            return { text: '$(circle-slash) DiffCoder', tooltip: 'DiffCoder: server stopped', ariaLabel: 'DiffCoder stopped', severity: 'warning', command: log };
        case 'starting':
            return { text: '$(loading~spin) DiffCoder', tooltip: 'DiffCoder: starting the server…', ariaLabel: 'DiffCoder starting', severity: 'ok', command: log };
        case 'loading': {
            const what = state.message ?? `loading ${state.path ?? 'the model'}`;
            return { text: '$(loading~spin) DiffCoder: loading', tooltip: `DiffCoder: ${what}`, ariaLabel: `DiffCoder loading: ${what}`, severity: 'ok', command: log };
        }
        case 'unconfigured':
            return { text: '$(warning) DiffCoder: no model', tooltip: `DiffCoder: ${state.detail}\nClick to open the settings.`, ariaLabel: 'DiffCoder has no model', severity: 'warning', command: 'diffcoder.openSettings' };
        case 'error':
            return { text: '$(error) DiffCoder', tooltip: `${state.message}\nClick to show the log.`, ariaLabel: `DiffCoder error: ${state.message}`, severity: 'error', command: log };
        case 'ready': {
            const name = baseName(state.path);
            const tooltip = `DiffCoder ready\nModel: ${state.path ?? '(default)'}\n${state.detail}`;
            if (busy.count > 0) {
                const pct = busy.percent === undefined ? '' : ` ${busy.percent}%`;
                const what = busy.message ? ` (${busy.message})` : '';
                return { text: `$(sync~spin) DiffCoder: editing${pct}`, tooltip: `DiffCoder busy${what}\n${tooltip}`, ariaLabel: `DiffCoder busy${pct}`, severity: 'ok', command: log };
            }
            return { text: `$(check) DiffCoder: ${name}`, tooltip, ariaLabel: `DiffCoder ready: ${name}, ${state.detail}`, severity: 'ok', command: log };
        }
    }
}

export class StatusBar implements vscode.Disposable {
    private readonly item: vscode.StatusBarItem;
    state: ServerState = { kind: 'stopped' };
    busy: Busy = { count: 0 };

    constructor() {
        this.item = vscode.window.createStatusBarItem('diffcoder.status', vscode.StatusBarAlignment.Right, 100);
        this.item.name = 'DiffCoder';
        this.render();
        this.item.show();
    }

    set(state: ServerState): void {
        this.state = state;
        this.render();
    }

    setBusy(busy: Busy): void {
        this.busy = busy;
        this.render();
    }

    private render(): void {
        const view = statusView(this.state, this.busy);
        this.item.text = view.text;
        this.item.tooltip = view.tooltip;
        this.item.accessibilityInformation = { label: view.ariaLabel };
        this.item.command = view.command;
        this.item.backgroundColor =
            view.severity === 'error'
                ? new vscode.ThemeColor('statusBarItem.errorBackground')
                : view.severity === 'warning'
                  ? new vscode.ThemeColor('statusBarItem.warningBackground')
                  : undefined;
    }

    dispose(): void {
        this.item.dispose();
    }
}
