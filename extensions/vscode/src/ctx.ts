// The extension's state: the language client and its lifecycle, the log, the status bar, the
// proposal previews and the instruction history. Commands receive it (commands.ts).
import * as vscode from 'vscode';
import {
    CancellationToken,
    ConfigurationParams,
    DidChangeConfigurationNotification,
    ExecuteCommandRequest,
    LanguageClient,
    LanguageClientOptions,
    RevealOutputChannelOn,
    ServerOptions,
    State,
} from 'vscode-languageclient/node';
import { affectsLive, currentConfig, needsRestart, RESTART_KEYS, SECTION, serverSettings, settingSource } from './config';
import { expandPath, launchCommand, preflight, Problem, resolvePython } from './launch';
import * as lsp_ext from './lsp_ext';
import { Proposals, PROPOSAL_SCHEME } from './preview';
import { OwnCommands, ProgressRouter } from './client_features';
import { StatusBar } from './status';
import { remember } from './instructions';
import { middleware } from './middleware';
import { notify } from './messages';
import { RegionHighlight } from './region';

const RECENT_KEY = 'diffcoder.recentInstructions';
const STATUS_POLL_MS = 1000;

/** The edit running now: its notification's progress reporter and cancellation. */
export interface ActiveEdit {
    uri: string;
    progress: vscode.Progress<{ message?: string; increment?: number }>;
    reported: number;
    cancel: vscode.CancellationTokenSource;
    /** the server announced the region it chose (before decoding) */
    onRegion(report: lsp_ext.RegionReport): void;
}

export class Ctx implements vscode.Disposable {
    readonly log: vscode.LogOutputChannel;
    readonly status: StatusBar;
    readonly proposals: Proposals;
    readonly regions: RegionHighlight;
    client: LanguageClient | undefined;
    activeEdit: ActiveEdit | undefined;
    private readonly disposables: vscode.Disposable[] = [];
    private poll: ReturnType<typeof setTimeout> | undefined;
    private starting: Promise<void> | undefined;
    private busyCount = 0; // edits this window asked for
    private readonly editProgress = new Set<string>(); // server-side edits (code actions too)
    private lastProblem: string | undefined; // why the server is not running

    constructor(readonly extension: vscode.ExtensionContext) {
        this.log = vscode.window.createOutputChannel('DiffCoder', { log: true });
        this.status = new StatusBar();
        this.regions = new RegionHighlight();
        this.proposals = new Proposals(
            (m) => this.log.info(m),
            () => this.regions.clear(),
        );
        this.disposables.push(
            this.log,
            this.status,
            this.proposals,
            this.regions,
            vscode.workspace.registerTextDocumentContentProvider(PROPOSAL_SCHEME, this.proposals),
            vscode.workspace.onDidChangeConfiguration((e) => this.onConfigurationChanged(e)),
        );
    }

    get recentInstructions(): string[] {
        return this.extension.globalState.get<string[]>(RECENT_KEY, []);
    }

    async rememberInstruction(instruction: string): Promise<void> {
        await this.extension.globalState.update(RECENT_KEY, remember(this.recentInstructions, instruction));
    }

    private workspaceFolder(): string | undefined {
        return vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    }

    private modelPath(): string {
        return expandPath(currentConfig().modelPath, this.workspaceFolder());
    }

    /** Start the server (no-op while a start is under way). */
    start(): Promise<void> {
        this.starting ??= this.doStart().finally(() => (this.starting = undefined));
        return this.starting;
    }

    private async doStart(): Promise<void> {
        this.status.set({ kind: 'starting' });
        this.lastProblem = undefined;
        // read afresh at every (re)start, the same way: the settings as VS Code resolves them now
        const config = currentConfig();
        const sources = RESTART_KEYS.map((key) => `${key}: ${settingSource(key)}`).join(', ');
        this.log.info(`launch settings from ${sources}${vscode.env.remoteName ? ` (remote window: ${vscode.env.remoteName})` : ''}`);
        const folder = this.workspaceFolder();
        const python = expandPath(await resolvePython(config, vscode.workspace.workspaceFolders?.[0]?.uri), folder);
        const paths = { serverPath: expandPath(config.serverPath, folder), serverTokenFile: expandPath(config.serverTokenFile, folder) };
        const launch = launchCommand({ ...config, ...paths }, python);
        const modelPath = config.serverUrl ? '' : this.modelPath();
        this.log.info(`starting ${launch.command} ${launch.args.join(' ')}${modelPath ? ` (model ${modelPath})` : ''}`);
        const problem = await preflight(launch, modelPath);
        if (problem) return this.fail(problem);

        // stdio without a transport field: the launch command already names the server's own
        // options, and stdio is its default (it accepts the `--stdio` other clients add)
        const serverOptions: ServerOptions = {
            command: launch.command,
            args: launch.args,
            options: { env: { ...process.env, ...config.serverEnv }, cwd: folder },
        };
        const clientOptions: LanguageClientOptions = {
            documentSelector: [{ scheme: 'file' }, { scheme: 'untitled' }],
            outputChannel: this.log,
            revealOutputChannelOn: RevealOutputChannelOn.Never,
            initializationOptions: serverSettings(config, modelPath),
            middleware: {
                ...middleware(
                    () => (this.client === client ? client : undefined),
                    (m) => this.log.warn(m),
                ),
                workspace: {
                    // The server pulls its section: answer with the same shape as initializationOptions.
                    configuration: (params: ConfigurationParams, token: CancellationToken, next) => {
                        if (params.items.every((item) => item.section === SECTION)) {
                            return params.items.map(() => serverSettings(currentConfig(), this.modelPath()));
                        }
                        return next(params, token);
                    },
                },
            },
        };
        const client = new LanguageClient('diffcoder', 'DiffCoder', serverOptions, clientOptions);
        client.registerProposedFeatures(); // inline completions (LSP 3.18) are "proposed" in client 9
        client.registerFeature(new ProgressRouter(client, this.progressSink()));
        client.registerFeature(new OwnCommands([lsp_ext.CANCEL_COMMAND]));
        client.onDidChangeState((e) => {
            if (this.client !== client) return;
            if (e.newState === State.Stopped) {
                this.lastProblem = 'the server stopped (see DiffCoder: Show Log)';
                this.status.set({ kind: 'error', message: 'DiffCoder: the server stopped; see the log' });
            } else if (e.newState === State.Running && e.oldState === State.Starting && this.starting === undefined) {
                void this.refreshStatus(); // the client restarted a crashed server by itself
            }
        });
        this.client = client;
        try {
            await client.start();
        } catch (error) {
            this.client = undefined;
            return this.fail({ kind: 'server', message: `DiffCoder: the server did not start: ${String(error)}` });
        }
        await this.refreshStatus();
    }

    private fail(problem: Problem): void {
        this.log.error(problem.message);
        this.lastProblem = problem.message.replace(/^DiffCoder: /, '');
        this.status.set({ kind: 'error', message: problem.message });
        const buttons = ['Open Settings', 'Show Log'];
        void notify('error', problem.message, ...buttons).then((choice) => {
            if (choice === 'Open Settings') void vscode.commands.executeCommand('diffcoder.openSettings');
            else if (choice === 'Show Log') this.log.show();
        });
    }

    /** Why an edit cannot run now (undefined: the server runs, or is starting and commands wait
     *  for it): asked before the instruction, so the user is not asked for one in vain. */
    downReason(): string | undefined {
        if (this.starting) return undefined;
        if (!this.client || !this.client.isRunning()) return this.lastProblem ?? 'the server is not running';
        const state = this.status.state;
        if (state.kind === 'error') return state.message.replace(/^DiffCoder: /, '');
        if (state.kind === 'unconfigured') return state.detail;
        return undefined;
    }

    async stop(): Promise<void> {
        this.stopPolling();
        this.editProgress.clear();
        const client = this.client;
        this.client = undefined;
        if (client) {
            try {
                await client.stop(5000);
            } catch (error) {
                this.log.warn(`stopping the server: ${String(error)}`);
            }
        }
        this.status.set({ kind: 'stopped' });
    }

    async restart(): Promise<void> {
        await this.starting;
        await this.stop();
        await this.start();
    }

    /** Ask the server how the model is doing; keep asking while it loads. */
    async refreshStatus(): Promise<void> {
        this.stopPolling();
        const client = this.client;
        if (!client || !client.isRunning()) return;
        let result: lsp_ext.StatusReply;
        try {
            result = await client.sendRequest(lsp_ext.status, {});
        } catch (error) {
            this.log.warn(`diffcoder/status failed: ${String(error)}`);
            return;
        }
        if (client !== this.client) return;
        const model = result.model;
        if (model.state === 'ready') this.status.set({ kind: 'ready', path: model.path, detail: model.detail });
        else if (model.state === 'failed') this.status.set({ kind: 'error', message: `DiffCoder: ${model.detail}` });
        else if (model.state === 'unconfigured') this.status.set({ kind: 'unconfigured', detail: model.detail });
        else this.status.set({ kind: 'loading', path: model.path, message: model.detail });
        if (model.state === 'loading') this.poll = setTimeout(() => void this.refreshStatus(), STATUS_POLL_MS);
    }

    private stopPolling(): void {
        if (this.poll !== undefined) clearTimeout(this.poll);
        this.poll = undefined;
    }

    private busy(extra: { percent?: number; message?: string } = {}): void {
        this.status.setBusy({ count: Math.max(this.busyCount, this.editProgress.size), ...extra });
    }

    private progressSink() {
        return {
            begin: (token: string, value: { title: string; message?: string }) => {
                if (value.title === lsp_ext.LOAD_PROGRESS_TITLE) {
                    this.status.set({ kind: 'loading', path: this.modelPath() || null, message: value.message });
                } else {
                    this.editProgress.add(token);
                    this.busy({ message: value.message });
                    this.activeEdit?.progress.report({ message: value.message });
                }
            },
            report: (token: string, value: { percentage?: number; message?: string }) => {
                if (lsp_ext.isRegionReport(value)) this.activeEdit?.onRegion(value);
                if (!this.editProgress.has(token) || value.percentage === undefined) return;
                this.busy({ percent: value.percentage, message: value.message });
                const edit = this.activeEdit;
                if (edit) {
                    edit.progress.report({ message: value.message, increment: Math.max(0, value.percentage - edit.reported) });
                    edit.reported = Math.max(edit.reported, value.percentage);
                }
            },
            end: (token: string) => {
                if (this.editProgress.delete(token)) this.busy();
                else void this.refreshStatus();
            },
        };
    }

    /** `diffcoder.edit` as a preview; undefined when cancelled. */
    async requestEdit(args: Omit<lsp_ext.EditArgs, 'apply'>, token: vscode.CancellationToken): Promise<lsp_ext.EditReply | undefined> {
        if (this.starting) await this.starting;
        const client = this.client;
        if (!client || !client.isRunning()) throw new Error('the DiffCoder server is not running (see DiffCoder: Show Log)');
        this.busyCount++;
        this.busy();
        try {
            const result = (await client.sendRequest(ExecuteCommandRequest.type, lsp_ext.editCommand(args), token)) as lsp_ext.EditReply | null;
            if (token.isCancellationRequested) return undefined;
            this.log.info(`diffcoder.edit result: ${JSON.stringify(result)}`);
            if (result?.outcome === 'refused') this.log.warn(`the server refused its answer: ${result.detail ?? result.rejected}`);
            return result ?? undefined;
        } catch (error) {
            if (token.isCancellationRequested) return undefined;
            throw error;
        } finally {
            this.busyCount--;
            this.busy();
        }
    }

    /** Cancel the running edit here and every edit on the server. */
    async cancelAll(): Promise<number> {
        this.activeEdit?.cancel.cancel();
        const client = this.client;
        if (!client || !client.isRunning()) return 0;
        const answer = (await client.sendRequest(ExecuteCommandRequest.type, lsp_ext.cancelCommand())) as lsp_ext.CancelReply | null;
        return answer?.cancelled ?? 0;
    }

    private onConfigurationChanged(event: vscode.ConfigurationChangeEvent): void {
        if (needsRestart(event)) {
            this.log.info('settings changed: restarting the server');
            void this.restart();
        } else if (affectsLive(event) && this.client?.isRunning()) {
            const settings = serverSettings(currentConfig(), this.modelPath());
            void this.client.sendNotification(DidChangeConfigurationNotification.type, { settings });
            this.log.info('settings changed: sent to the server');
        }
    }

    dispose(): void {
        this.stopPolling();
        for (const d of this.disposables) d.dispose();
    }
}
