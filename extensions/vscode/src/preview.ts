// Proposed edits shown as a diff: a read-only virtual document holds the proposal, `vscode.diff`
// compares it with the live document, and Accept applies the edits as one undoable WorkspaceEdit
// only if the document is still at the version the server computed them for.
import * as vscode from 'vscode';
import { TextEdit as LspTextEdit } from 'vscode-languageserver-protocol';
import { applyTextEdits, editedEnd } from './text_edits';

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
    /** where the cursor goes after Accept: the end of the last changed text */
    cursorAfter: { line: number; character: number };
}

export type Outcome = 'applied' | 'rejected' | 'stale' | 'failed' | 'none';

export interface ShowOptions {
    /** which region the edit rewrote, for the title ("function mean (lines 1–5)") */
    region?: string;
    /** set when the server refused this answer: why, in a few words; the title says REFUSED */
    refused?: string;
}

/** The diff's title: the file, the instruction, the region, and REFUSED for a refused answer. */
export function diffTitle(name: string, instruction: string, options: ShowOptions = {}): string {
    const short = instruction.length > 50 ? instruction.slice(0, 49) + '…' : instruction;
    const what = options.refused ? `DiffCoder REFUSED (${options.refused})` : 'DiffCoder';
    return `${name} ↔ ${what}: ${short}${options.region ? ` — ${options.region}` : ''}`;
}

export class Proposals implements vscode.TextDocumentContentProvider, vscode.Disposable {
    private readonly changed = new vscode.EventEmitter<vscode.Uri>();
    readonly onDidChange = this.changed.event;
    private readonly byId = new Map<number, Proposal>();
    private nextId = 1;
    current: Proposal | undefined;

    constructor(
        private readonly log: (message: string) => void,
        private readonly onClosed: (proposal: Proposal) => void = () => undefined,
    ) {}

    provideTextDocumentContent(uri: vscode.Uri): string {
        const id = Number(new URLSearchParams(uri.query).get('id'));
        return this.byId.get(id)?.proposedText ?? '';
    }

    /** Register a proposal for `document` (at its current version) and open the diff. */
    async show(document: vscode.TextDocument, edits: LspTextEdit[], instruction: string, options: ShowOptions = {}): Promise<Proposal> {
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
            cursorAfter: editedEnd(document.getText(), edits),
        };
        this.byId.set(id, proposal);
        this.current = proposal;
        await vscode.commands.executeCommand('setContext', OPEN_CONTEXT, true);
        const title = diffTitle(name, instruction, options);
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
        // the old selection would cover part of the new code: put the cursor after the change
        const editor = await vscode.window.showTextDocument(document, { preview: false });
        const at = proposal.cursorAfter;
        const cursor = new vscode.Position(at.line, at.character);
        editor.selection = new vscode.Selection(cursor, cursor);
        editor.revealRange(new vscode.Range(cursor.line, 0, cursor.line, 0));
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
        this.onClosed(proposal);
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
