// Command factories: each takes the context and returns the handler registered in extension.ts.
import * as vscode from 'vscode';
import { Ctx } from './ctx';
import { currentConfig } from './config';
import { instructionItems } from './instructions';
import { editsFor } from './text_edits';

export type Cmd = (...args: unknown[]) => unknown;

/** A quick pick that takes what is typed, with recent and suggested instructions below it. */
export async function pickInstruction(ctx: Ctx): Promise<string | undefined> {
    const recent = ctx.recentInstructions;
    const suggested = currentConfig().edit.instructions;
    const pick = vscode.window.createQuickPick();
    pick.title = 'DiffCoder: Edit Selection';
    pick.placeholder = 'What should change? (type an instruction, or pick a recent one)';
    pick.matchOnDescription = false;
    pick.items = instructionItems('', recent, suggested);
    return new Promise<string | undefined>((resolve) => {
        let done = false;
        const finish = (value: string | undefined) => {
            if (done) return;
            done = true;
            resolve(value?.trim() || undefined);
            pick.dispose();
        };
        pick.onDidChangeValue((value) => (pick.items = instructionItems(value, recent, suggested)));
        pick.onDidAccept(() => finish(pick.selectedItems[0]?.label ?? pick.activeItems[0]?.label ?? pick.value));
        pick.onDidHide(() => finish(undefined));
        pick.show();
    });
}

export function editSelection(ctx: Ctx): Cmd {
    return async () => {
        const editor = vscode.window.activeTextEditor;
        if (!editor) {
            void vscode.window.showInformationMessage('DiffCoder: open a file and select the code to edit first.');
            return;
        }
        const instruction = await pickInstruction(ctx);
        if (!instruction) return;
        await ctx.rememberInstruction(instruction);
        const document = editor.document;
        const selection = editor.selection;
        const version = document.version;
        const uri = document.uri.toString();
        const range = {
            start: { line: selection.start.line, character: selection.start.character },
            end: { line: selection.end.line, character: selection.end.character },
        };
        const result = await vscode.window.withProgress(
            { location: vscode.ProgressLocation.Notification, title: `DiffCoder: ${instruction}`, cancellable: true },
            async (progress, token) => {
                const source = new vscode.CancellationTokenSource();
                token.onCancellationRequested(() => source.cancel());
                ctx.activeEdit = { uri, progress, reported: 0, cancel: source };
                progress.report({ message: 'waiting for the model…' });
                try {
                    return await ctx.requestEdit({ textDocument: { uri, version }, range, instruction }, source.token);
                } catch (error) {
                    void vscode.window.showErrorMessage(`DiffCoder: ${error instanceof Error ? error.message : String(error)}`);
                    return undefined;
                } finally {
                    ctx.activeEdit = undefined;
                    source.dispose();
                }
            },
        );
        if (!result) return;
        const edits = result.edit ? editsFor(result.edit, uri).edits : [];
        if (result.outcome !== 'proposed' || edits.length === 0) {
            const why = result.detail ?? 'the model proposed no change';
            void vscode.window.showWarningMessage(`DiffCoder: no edit (${why}).`);
            return;
        }
        if (document.version !== version) {
            void vscode.window.showWarningMessage('DiffCoder: the document changed while the edit was computed; ask again.');
            return;
        }
        const proposal = await ctx.proposals.show(document, edits, instruction);
        const seconds = (result.stats.modelSeconds + result.stats.serverSeconds).toFixed(1);
        const choice = await vscode.window.showInformationMessage(
            `DiffCoder proposes a change to the ${result.region.kind}${result.region.name ? ` ${result.region.name}` : ''} (${result.stats.generatedTokens} tokens, ${seconds} s).`,
            'Accept',
            'Reject',
        );
        if (ctx.proposals.current !== proposal) return; // accepted or rejected from the editor title
        if (choice === 'Accept') await ctx.proposals.accept(proposal);
        else if (choice === 'Reject') await ctx.proposals.reject(proposal);
    };
}

export function acceptEdit(ctx: Ctx): Cmd {
    return () => ctx.proposals.accept();
}

export function rejectEdit(ctx: Ctx): Cmd {
    return () => ctx.proposals.reject();
}

export function restartServer(ctx: Ctx): Cmd {
    return () => ctx.restart();
}

export function showLog(ctx: Ctx): Cmd {
    return () => ctx.log.show();
}

export function cancel(ctx: Ctx): Cmd {
    return async () => {
        const count = await ctx.cancelAll();
        ctx.log.info(`cancel: ${count} server-side job(s) cancelled`);
    };
}

export function openSettings(): Cmd {
    return () => vscode.commands.executeCommand('workbench.action.openSettings', '@ext:diffcoder.diffcoder');
}
