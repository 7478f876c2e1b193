// Proposed edits shown as a diff: a read-only virtual document holds the proposal, `vscode.diff`
// compares it with the live document, and Accept applies the edits as one undoable WorkspaceEdit
// only if the document is still at the version the server computed them for.
import * as vscode from 'vscode';
import { TextEdit as LspTextEdit } from 'vscode-languageserver-protocol';
import { applyTextEdits } from './text_edits';

export const PROPOSAL_SCHEME = 'diffcoder-proposal';
const OPEN_CONTEXT = 'diffcoder.proposalOpen';

export interface Proposal {
    id: number;
    document: vscode.Uri;
    version: number;
    instruction: string;
    edits: LspTextEdit[];
    proposedText: string;
    previewUri: vscode.Uri;
}

export type Outcome = 'applied' | 'rejected' | 'stale' | 'failed' | 'none';

export class Proposals implements vscode.TextDocumentContentProvider, vscode.Disposable {
    private readonly changed = new vscode.EventEmitter<vscode.Uri>();
    readonly onDidChange = this.changed.event;
    private readonly byId = new Map<number, Proposal>();
    private nextId = 1;
    current: Proposal | undefined;

    constructor(private readonly log: (message: string) => void) {}

    provideTextDocumentContent(uri: vscode.Uri): string {
        const id = Number(new URLSearchParams(uri.query).get('id'));
        return this.byId.get(id)?.proposedText ?? '';
    }

    /** Register a proposal for `document` (at its current version) and open the diff. */
    async show(document: vscode.TextDocument, edits: LspTextEdit[], instruction: string): Promise<Proposal> {
        if (this.current) await this.close(this.current);
        const id = this.nextId++;
        const name = document.uri.path.split('/').pop() ?? 'document';
        const previewUri = vscode.Uri.from({ scheme: PROPOSAL_SCHEME, path: `/${name}`, query: `id=${id}` });
        const proposal: Proposal = {
            id,
            document: document.uri,
            version: document.version,
            instruction,
            edits,
            proposedText: applyTextEdits(document.getText(), edits),
            previewUri,
        };
        this.byId.set(id, proposal);
        this.current = proposal;
        await vscode.commands.executeCommand('setContext', OPEN_CONTEXT, true);
        const title = `${name} ↔ DiffCoder: ${instruction.length > 50 ? instruction.slice(0, 49) + '…' : instruction}`;
        await vscode.commands.executeCommand('vscode.diff', document.uri, previewUri, title, { preview: true });
        return proposal;
    }

    /** Apply the proposal (default: the current one) if its document has not changed. */
    async accept(proposal = this.current): Promise<Outcome> {
        if (!proposal) return 'none';
        const document = vscode.workspace.textDocuments.find((d) => d.uri.toString() === proposal.document.toString());
        if (!document || document.version !== proposal.version) {
            await this.close(proposal);
            void vscode.window.showWarningMessage(
                'DiffCoder: the document changed since the edit was proposed; nothing was applied. Ask again.',
            );
            return 'stale';
        }
        const edit = new vscode.WorkspaceEdit();
        edit.set(
            document.uri,
            proposal.edits.map(
                (e) =>
                    new vscode.TextEdit(
                        new vscode.Range(e.range.start.line, e.range.start.character, e.range.end.line, e.range.end.character),
                        e.newText,
                    ),
            ),
        );
        const applied = await vscode.workspace.applyEdit(edit);
        this.log(`proposal ${proposal.id} ${applied ? 'applied' : 'could not be applied'} to ${document.uri.toString()}`);
        await this.close(proposal);
        if (!applied) {
            void vscode.window.showErrorMessage('DiffCoder: VS Code refused the edit; nothing was applied.');
            return 'failed';
        }
        await vscode.window.showTextDocument(document, { preview: false });
        return 'applied';
    }

    async reject(proposal = this.current): Promise<Outcome> {
        if (!proposal) return 'none';
        this.log(`proposal ${proposal.id} rejected`);
        await this.close(proposal);
        return 'rejected';
    }

    private async close(proposal: Proposal): Promise<void> {
        this.byId.delete(proposal.id);
        if (this.current === proposal) {
            this.current = undefined;
            await vscode.commands.executeCommand('setContext', OPEN_CONTEXT, false);
        }
        const tabs = vscode.window.tabGroups.all
            .flatMap((group) => group.tabs)
            .filter(
                (tab) =>
                    tab.input instanceof vscode.TabInputTextDiff &&
                    tab.input.modified.toString() === proposal.previewUri.toString(),
            );
        if (tabs.length > 0) await vscode.window.tabGroups.close(tabs);
    }

    dispose(): void {
        this.changed.dispose();
        this.byId.clear();
    }
}
