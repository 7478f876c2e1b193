// How the server is started: the configured interpreter with `-m diffcoder.lsp_server` (as the
// vscode-python-tools-extension-template does) or an explicit executable, plus the checks that
// turn a missing Python, package or model directory into a clear message.
import * as vscode from 'vscode';
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Config } from './config';

export interface Launch {
    command: string;
    args: string[];
    /** true when `command` is a Python interpreter that must have the package installed. */
    viaPython: boolean;
}

export type ProblemKind = 'python' | 'package' | 'server' | 'model';

export interface Problem {
    kind: ProblemKind;
    message: string;
}

/** `~` and `${workspaceFolder}` expanded, relative paths taken from the first workspace folder. */
export function expandPath(value: string, workspaceFolder: string | undefined, home = os.homedir()): string {
    if (!value) return value;
    let out = value.replace(/\$\{workspaceFolder\}/g, workspaceFolder ?? '.').replace(/\$\{userHome\}/g, home);
    if (out === '~' || out.startsWith('~/')) out = path.join(home, out.slice(1));
    if (!path.isAbsolute(out) && workspaceFolder && (out.includes('/') || out.includes('\\') || out.startsWith('.'))) {
        out = path.join(workspaceFolder, out);
    }
    return out;
}

/** The server's command line. With `server.url` it decodes on that team server (`--server URL
 *  [--token-file F]`; no local model), else on the model of `modelPath` (sent as a setting). */
export function launchCommand(config: Config, python: string): Launch {
    const remote = config.serverUrl ? ['--server', config.serverUrl] : [];
    if (config.serverUrl && config.serverTokenFile) remote.push('--token-file', config.serverTokenFile);
    const args = [...remote, ...config.serverArgs];
    if (config.serverPath) return { command: config.serverPath, args, viaPython: false };
    return { command: python, args: ['-m', 'diffcoder.lsp_server', ...args], viaPython: true };
}

/** The interpreter: `diffcoder.server.python`, else the Python extension's, else `python3`. */
export async function resolvePython(config: Config, resource?: vscode.Uri): Promise<string> {
    if (config.serverPython) return config.serverPython;
    const fromExtension = await pythonExtensionInterpreter(resource);
    return fromExtension ?? 'python3';
}

interface PythonApi {
    environments?: {
        getActiveEnvironmentPath(resource?: vscode.Uri): { path: string };
        resolveEnvironment(env: { path: string }): Promise<{ executable: { uri?: vscode.Uri } } | undefined>;
    };
    settings?: { getExecutionDetails(resource?: vscode.Uri): { execCommand: string[] | undefined } };
}

async function pythonExtensionInterpreter(resource?: vscode.Uri): Promise<string | undefined> {
    const extension = vscode.extensions.getExtension<PythonApi>('ms-python.python');
    if (!extension) return undefined;
    try {
        const api = extension.isActive ? extension.exports : await extension.activate();
        if (api.environments) {
            const active = api.environments.getActiveEnvironmentPath(resource);
            const env = await api.environments.resolveEnvironment(active);
            const executable = env?.executable.uri?.fsPath;
            if (executable) return executable;
        }
        const command = api.settings?.getExecutionDetails(resource).execCommand;
        if (command && command.length === 1) return command[0];
    } catch {
        // an older or broken Python extension: fall back to python3
    }
    return undefined;
}

// Exit code 3: the package (or its server) is not importable; find_spec imports only the parents.
const CHECK_PACKAGE = [
    'import importlib.util, sys',
    "found = importlib.util.find_spec('diffcoder') and importlib.util.find_spec('diffcoder.lsp_server')",
    'sys.exit(0 if found else 3)',
].join('\n');

function run(command: string, args: string[], timeoutMs: number): Promise<{ code: number | string | null; stderr: string }> {
    return new Promise((resolve) => {
        execFile(command, args, { timeout: timeoutMs }, (error, _stdout, stderr) => {
            if (!error) return resolve({ code: 0, stderr });
            const code = (error as NodeJS.ErrnoException).code ?? null;
            resolve({ code: typeof code === 'number' || typeof code === 'string' ? code : null, stderr: String(stderr) });
        });
    });
}

/** Why the server cannot start as configured, or undefined when it can. */
export async function preflight(launch: Launch, modelPath: string, timeoutMs = 30_000): Promise<Problem | undefined> {
    if (launch.viaPython) {
        const result = await run(launch.command, ['-c', CHECK_PACKAGE], timeoutMs);
        if (result.code === 'ENOENT' || result.code === 'EACCES') {
            return {
                kind: 'python',
                message: `DiffCoder: Python interpreter "${launch.command}" not found. Set diffcoder.server.python to a Python ≥ 3.10 that has diffcoder-lsp installed.`,
            };
        }
        if (result.code === 3) {
            return {
                kind: 'package',
                message: `DiffCoder: the package diffcoder-lsp is not installed for ${launch.command}. Install it there (pip install -e <diffcoder checkout>) or point diffcoder.server.python at an interpreter that has it.`,
            };
        }
        if (result.code !== 0) {
            const detail = result.stderr.trim().split('\n').slice(-1)[0] ?? '';
            return {
                kind: 'python',
                message: `DiffCoder: "${launch.command}" could not run (${result.code}${detail ? `: ${detail}` : ''}). Check diffcoder.server.python.`,
            };
        }
    } else if (path.isAbsolute(launch.command) && !fs.existsSync(launch.command)) {
        return {
            kind: 'server',
            message: `DiffCoder: the server executable "${launch.command}" does not exist. Fix diffcoder.server.path or clear it to use Python.`,
        };
    }
    if (modelPath && !fs.existsSync(modelPath)) {
        return {
            kind: 'model',
            message: `DiffCoder: the model directory "${modelPath}" does not exist. Set diffcoder.modelPath to a checkpoint directory (or clear it for the server's default).`,
        };
    }
    return undefined;
}
