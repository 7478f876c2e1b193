// Two additions to the language client: work-done progress routed (the model load to the status
// bar, an edit's percentage to the notification of the edit that is running, where the client's
// default shows only a status-bar spinner), and server commands that this extension registers
// itself kept out of the client's automatic command registration.
import {
    ClientCapabilities,
    ServerCapabilities,
    FeatureState,
    StaticFeature,
    WorkDoneProgress,
    WorkDoneProgressBegin,
    WorkDoneProgressCreateRequest,
    WorkDoneProgressReport,
    WorkDoneProgressEnd,
} from 'vscode-languageclient';
import type { BaseLanguageClient } from 'vscode-languageclient';
import type { Disposable } from 'vscode';

export interface ProgressSink {
    begin(token: string, value: WorkDoneProgressBegin): void;
    report(token: string, value: WorkDoneProgressReport): void;
    end(token: string, value: WorkDoneProgressEnd): void;
}

export class ProgressRouter implements StaticFeature {
    private readonly listening = new Map<string, Disposable>();

    constructor(
        private readonly client: BaseLanguageClient,
        private readonly sink: ProgressSink,
    ) {}

    fillClientCapabilities(capabilities: ClientCapabilities): void {
        capabilities.window = { ...capabilities.window, workDoneProgress: true };
    }

    getState(): FeatureState {
        return { kind: 'static' };
    }

    initialize(): void {
        // Registered after the client's own ProgressFeature, so this handler replaces its one.
        this.client.onRequest(WorkDoneProgressCreateRequest.type, ({ token }) => {
            const key = String(token);
            const listener = this.client.onProgress(WorkDoneProgress.type, token, (value) => {
                if (value.kind === 'begin') this.sink.begin(key, value);
                else if (value.kind === 'report') this.sink.report(key, value);
                else {
                    this.sink.end(key, value);
                    this.listening.get(key)?.dispose();
                    this.listening.delete(key);
                }
            });
            this.listening.set(key, listener);
        });
    }

    clear(): void {
        for (const listener of this.listening.values()) listener.dispose();
        this.listening.clear();
    }
}

/** Drops `commands` from the server's executeCommandProvider before the client registers a VS
 *  Code command for each (which would clash with the extension's own command of that name). */
export class OwnCommands implements StaticFeature {
    constructor(private readonly commands: readonly string[]) {}

    fillClientCapabilities(): void {}

    getState(): FeatureState {
        return { kind: 'static' };
    }

    preInitialize(capabilities: ServerCapabilities): void {
        const provider = capabilities.executeCommandProvider;
        if (provider) provider.commands = provider.commands.filter((c) => !this.commands.includes(c));
    }

    initialize(): void {}

    clear(): void {}
}
