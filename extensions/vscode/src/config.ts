// Typed access to the `diffcoder.*` settings, what the server receives, and which keys need a
// restart. `readConfig` takes a getter so the pure parts run without VS Code.
import * as vscode from 'vscode';

export const SECTION = 'diffcoder';

export interface Config {
    serverPath: string;
    serverPython: string;
    serverArgs: string[];
    serverEnv: Record<string, string>;
    /** a team server (`diffcoder serve`): launch with `--server URL` instead of a local model */
    serverUrl: string;
    serverTokenFile: string;
    modelPath: string;
    quant: 'auto' | 'none' | '8bit' | '4bit';
    device: string;
    edit: {
        maxNewTokens: number;
        threshold: number | null;
        rejectSyntaxErrors: boolean;
        instructions: string[];
        applyTimeoutS: number;
    };
    /** client only: false = a DiffCoder code action opens the diff review */
    codeActions: { applyDirectly: boolean };
    inline: { enabled: boolean; debounceMs: number; maxNewTokens: number; stopAt: 'block' | 'line' | 'none' };
    completion: { enabled: boolean };
    context: { maxTokens: number };
}

/** Changing one of these restarts the server (a new process or a new model). */
export const RESTART_KEYS = [
    'server.path',
    'server.python',
    'server.args',
    'server.env',
    'server.url',
    'server.tokenFile',
    'modelPath',
    'quant',
    'device',
] as const;

/** Sent to the running server as they change (workspace/didChangeConfiguration). */
export const LIVE_KEYS = ['edit', 'inline', 'completion', 'context'] as const;

type Getter = <T>(key: string, fallback: T) => T;

export function readConfig(get: Getter): Config {
    const strings = (v: unknown) => (Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : []);
    const env = get<Record<string, unknown>>('server.env', {});
    return {
        serverPath: get('server.path', '').trim(),
        serverPython: get('server.python', '').trim(),
        serverArgs: strings(get<unknown>('server.args', [])),
        serverEnv: Object.fromEntries(
            Object.entries(env ?? {}).filter((kv): kv is [string, string] => typeof kv[1] === 'string'),
        ),
        serverUrl: get('server.url', '').trim(),
        serverTokenFile: get('server.tokenFile', '').trim(),
        modelPath: get('modelPath', '').trim(),
        quant: get<Config['quant']>('quant', 'auto'),
        device: get('device', 'auto').trim() || 'auto',
        edit: {
            maxNewTokens: get('edit.maxNewTokens', 2048),
            threshold: get<number | null>('edit.threshold', 0.95),
            rejectSyntaxErrors: get('edit.rejectSyntaxErrors', true),
            instructions: strings(get<unknown>('edit.instructions', [])),
            applyTimeoutS: get('edit.applyTimeoutS', 10),
        },
        codeActions: { applyDirectly: get('codeActions.applyDirectly', false) },
        inline: {
            enabled: get('inline.enabled', true),
            debounceMs: get('inline.debounceMs', 150),
            maxNewTokens: get('inline.maxNewTokens', 64),
            stopAt: get<Config['inline']['stopAt']>('inline.stopAt', 'block'),
        },
        completion: { enabled: get('completion.enabled', true) },
        context: { maxTokens: get('context.maxTokens', 8192) },
    };
}

/** The settings object the server parses (diffcoder/lsp_server/settings.py, camelCase). Empty
 *  values are left out so the server's own defaults (or its --model) apply; with a team server
 *  (`server.url`) there is no local model to name. */
export function serverSettings(config: Config, modelPath = config.modelPath): Record<string, unknown> {
    const settings: Record<string, unknown> = {
        quant: config.quant,
        device: config.device,
        edit: { ...config.edit },
        inline: { ...config.inline },
        completion: { ...config.completion },
        context: { ...config.context },
    };
    if (config.edit.instructions.length === 0) delete (settings.edit as Record<string, unknown>).instructions;
    if (modelPath && !config.serverUrl) settings.modelPath = modelPath;
    return settings;
}

export function needsRestart(event: { affectsConfiguration(section: string): boolean }): boolean {
    return RESTART_KEYS.some((key) => event.affectsConfiguration(`${SECTION}.${key}`));
}

export function affectsLive(event: { affectsConfiguration(section: string): boolean }): boolean {
    return LIVE_KEYS.some((key) => event.affectsConfiguration(`${SECTION}.${key}`));
}

export function currentConfig(): Config {
    const section = vscode.workspace.getConfiguration(SECTION);
    return readConfig((key, fallback) => section.get(key, fallback));
}

/** Where a setting's value comes from, for the log ("User", "Remote"… as VS Code resolves it). */
export function settingSource(key: string): string {
    const info = vscode.workspace.getConfiguration(SECTION).inspect(key);
    if (!info) return 'unknown';
    if (info.workspaceFolderValue !== undefined) return 'folder settings';
    if (info.workspaceValue !== undefined) return 'workspace settings';
    if (info.globalValue !== undefined) return 'user settings';
    return 'default';
}

/** The settings editor on the tab where the settings apply: in a remote window (code-server,
 *  SSH, containers) the server runs on the remote machine, so its Remote tab. */
export function openSettingsCommand(remoteName: string | undefined): string {
    return remoteName ? 'workbench.action.openRemoteSettings' : 'workbench.action.openSettings';
}
