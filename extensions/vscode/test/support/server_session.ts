// Drives the real Python server from plain Node, the way the extension's client does: one
// process over stdio, VS Code-like capabilities, a handler for workspace/configuration, and
// events (progress, messages) that tests wait on. Shared by the protocol test and the e2e run.
import { ChildProcess, execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
    CancellationToken,
    ClientCapabilities,
    ConfigurationRequest,
    createProtocolConnection,
    DidOpenTextDocumentNotification,
    ExecuteCommandRequest,
    InitializeRequest,
    InitializeResult,
    InitializedNotification,
    LogMessageNotification,
    ProtocolConnection,
    ShowMessageNotification,
    ShowMessageParams,
    StreamMessageReader,
    StreamMessageWriter,
    WorkDoneProgress,
    WorkDoneProgressCreateRequest,
    ExitNotification,
    ShutdownRequest,
} from 'vscode-languageserver-protocol/node';
import * as lsp_ext from '../../src/lsp_ext';

/** The extension folder (this file compiles to out/test/support/). */
export const EXTENSION_DIR = path.resolve(__dirname, '..', '..', '..');
export const REPO_ROOT = path.resolve(EXTENSION_DIR, '..', '..');

/** The interpreter with diffcoder installed: $DIFFCODER_PYTHON, the repo's .venv, or python3. */
export function pythonPath(): string {
    if (process.env.DIFFCODER_PYTHON) return process.env.DIFFCODER_PYTHON;
    const venv = path.join(REPO_ROOT, '.venv', 'bin', 'python');
    return fs.existsSync(venv) ? venv : 'python3';
}

/** A tiny random-weight checkpoint made once per process. */
let tiny: string | undefined;
export function tinyCheckpoint(): string {
    if (!tiny) {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diffcoder-vscode-'));
        process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
        tiny = path.join(dir, 'tiny');
        execFileSync(pythonPath(), ['-m', 'diffcoder', 'make-tiny-checkpoint', tiny], { stdio: 'ignore', env: serverEnv() });
    }
    return tiny;
}

/** A tiny checkpoint whose answers end at once (test/e2e/finishing_checkpoint.py): edits from it
 *  are proposals (the selection replaced by the empty answer) instead of "did not end" refusals. */
let finishing: string | undefined;
export function finishingCheckpoint(): string {
    if (!finishing) {
        finishing = path.join(path.dirname(tinyCheckpoint()), 'finishing');
        fs.cpSync(tinyCheckpoint(), finishing, { recursive: true });
        const script = path.join(EXTENSION_DIR, 'test', 'e2e', 'finishing_checkpoint.py');
        execFileSync(pythonPath(), [script, finishing], { stdio: 'ignore', env: serverEnv() });
    }
    return finishing;
}

/** A bigger random checkpoint (tens of ms a step): edits on it run long enough to cancel. */
let slow: string | undefined;
export function slowCheckpoint(): string {
    if (!slow) {
        slow = path.join(path.dirname(tinyCheckpoint()), 'slow');
        const size = ['--hidden', '512', '--layers', '6', '--heads', '8', '--kv-heads', '4'];
        execFileSync(pythonPath(), ['-m', 'diffcoder', 'make-tiny-checkpoint', slow, ...size], { stdio: 'ignore', env: serverEnv() });
    }
    return slow;
}

export function serverEnv(): NodeJS.ProcessEnv {
    // One torch thread per server process: the test machines have two cores.
    return { ...process.env, OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1' };
}

export const CAPABILITIES: ClientCapabilities = {
    window: { workDoneProgress: true, showMessage: {} },
    workspace: {
        configuration: true,
        workspaceEdit: { documentChanges: true },
        didChangeConfiguration: { dynamicRegistration: true },
        applyEdit: true,
    },
    textDocument: {
        codeAction: {
            resolveSupport: { properties: ['edit'] },
            codeActionLiteralSupport: { codeActionKind: { valueSet: ['refactor.rewrite', 'quickfix'] } },
        },
    },
};

/** Resolves when `predicate` holds for some event; events seen earlier count too. */
class Events<T> {
    private readonly seen: T[] = [];
    private readonly waiters: { predicate: (t: T) => boolean; resolve: (t: T) => void }[] = [];
    push(value: T): void {
        this.seen.push(value);
        for (const w of [...this.waiters]) {
            if (w.predicate(value)) {
                this.waiters.splice(this.waiters.indexOf(w), 1);
                w.resolve(value);
            }
        }
    }
    all(): readonly T[] {
        return this.seen;
    }
    wait(predicate: (t: T) => boolean, timeoutMs = 60_000, what = 'event'): Promise<T> {
        const found = this.seen.find(predicate);
        if (found !== undefined) return Promise.resolve(found);
        return new Promise((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
            this.waiters.push({ predicate, resolve: (t) => (clearTimeout(timer), resolve(t)) });
        });
    }
}

export interface ProgressEvent {
    token: string;
    kind: 'begin' | 'report' | 'end';
    title?: string;
    percentage?: number;
}

export class ServerSession {
    readonly connection: ProtocolConnection;
    readonly progress = new Events<ProgressEvent>();
    readonly messages = new Events<ShowMessageParams>();
    readonly stderr: string[] = [];
    settings: Record<string, unknown>;
    initializeResult: InitializeResult | undefined;

    private constructor(
        readonly process: ChildProcess,
        settings: Record<string, unknown>,
    ) {
        this.settings = settings;
        this.connection = createProtocolConnection(
            new StreamMessageReader(process.stdout!),
            new StreamMessageWriter(process.stdin!),
        );
        process.stderr!.on('data', (chunk: Buffer) => this.stderr.push(chunk.toString()));
        this.connection.onRequest(ConfigurationRequest.type, (params) => params.items.map(() => this.settings));
        this.connection.onRequest(WorkDoneProgressCreateRequest.type, ({ token }) => {
            this.connection.onProgress(WorkDoneProgress.type, token, (value) =>
                this.progress.push({
                    token: String(token),
                    kind: value.kind,
                    title: value.kind === 'begin' ? value.title : undefined,
                    percentage: value.kind === 'end' ? undefined : value.percentage,
                }),
            );
        });
        this.connection.onNotification(ShowMessageNotification.type, (params) => this.messages.push(params));
        this.connection.onNotification(LogMessageNotification.type, () => undefined);
        this.connection.listen();
    }

    /** Start `python -m diffcoder.lsp_server` and initialize it with `settings` as options. */
    static async start(settings: Record<string, unknown>, args: string[] = []): Promise<ServerSession> {
        const child = spawn(pythonPath(), ['-m', 'diffcoder.lsp_server', ...args], {
            env: serverEnv(),
            stdio: ['pipe', 'pipe', 'pipe'],
        });
        const session = new ServerSession(child, settings);
        session.initializeResult = await session.connection.sendRequest(InitializeRequest.type, {
            processId: process.pid,
            rootUri: null,
            capabilities: CAPABILITIES,
            initializationOptions: settings,
        });
        await session.connection.sendNotification(InitializedNotification.type, {});
        return session;
    }

    status(): Promise<lsp_ext.StatusReply> {
        return this.connection.sendRequest(lsp_ext.status, {});
    }

    /** Waits for the model load's progress to end, then returns the status. */
    async loaded(timeoutMs = 120_000): Promise<lsp_ext.StatusReply> {
        const begin = await this.progress.wait((e) => e.kind === 'begin' && e.title === lsp_ext.LOAD_PROGRESS_TITLE, timeoutMs, 'the load to begin');
        await this.progress.wait((e) => e.kind === 'end' && e.token === begin.token, timeoutMs, 'the load to end');
        return this.status();
    }

    async open(uri: string, text: string, languageId = 'python', version = 1): Promise<void> {
        await this.connection.sendNotification(DidOpenTextDocumentNotification.type, {
            textDocument: { uri, languageId, version, text },
        });
    }

    edit(args: Omit<lsp_ext.EditArgs, 'apply'>, token?: CancellationToken): Promise<lsp_ext.EditReply> {
        return this.connection.sendRequest(ExecuteCommandRequest.type, lsp_ext.editCommand(args), token) as Promise<lsp_ext.EditReply>;
    }

    async stop(): Promise<void> {
        const exited = new Promise<void>((resolve) => {
            if (this.process.exitCode !== null) resolve();
            else this.process.once('exit', () => resolve());
        });
        try {
            await this.connection.sendRequest(ShutdownRequest.type);
            await this.connection.sendNotification(ExitNotification.type);
        } catch {
            // already gone
        }
        const killer = setTimeout(() => this.process.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(killer);
        this.connection.dispose();
    }
}

/** A small Python file the protocol and e2e tests edit: `mean` is the function they select. */
export const SAMPLE_SOURCE = [
    'def mean(xs):',
    '    total = 0',
    '    for x in xs:',
    '        total += x',
    '    return total / len(xs)',
    '',
    '',
    'def largest(xs):',
    '    return max(xs)',
    '',
].join('\n');
