// One edit reviewed before it lands, for Edit Selection and for a DiffCoder code action alike:
// the region highlighted while the model works, a progress notification with Cancel, then the
// proposal as a diff with Accept/Reject — or, when the server refused its answer, why (in full)
// with "Show anyway" (the refused answer as a diff, marked so) and "Show log".
import * as vscode from 'vscode';
import type { Range, TextEdit } from 'vscode-languageserver-protocol';
import { Ctx } from './ctx';
import * as lsp_ext from './lsp_ext';
import { explain, notify } from './messages';
import { describeRegion, lineSpan } from './region';
import { editsFor } from './text_edits';

export interface EditTarget {
    document: vscode.TextDocument;
    range: Range;
    instruction: string;
    /** what the range is, for the highlight before the server names its region */
    requested: 'selection' | 'cursor' | 'code action';
}

export const SHOW_ANYWAY = 'Show anyway';
export const SHOW_LOG = 'Show log';

function requestedLabel(target: EditTarget): string {
    const { first, last } = lineSpan(target.range);
    const lines = first === last ? `line ${first}` : `lines ${first}–${last}`;
    const what = target.requested === 'cursor' ? 'the code around the cursor' : `the ${target.requested}`;
    return `${what}, ${lines} (the server picks the region…)`;
}

/** Ask for the edit of `target` and run the review; resolves when the proposal is decided or
 *  shown (Accept/Reject from the editor title work afterwards too). */
export async function review(ctx: Ctx, target: EditTarget): Promise<void> {
    const { document, instruction } = target;
    const uri = document.uri.toString();
    const version = document.version;
    ctx.log.info(`edit requested: ${JSON.stringify(instruction)} on ${uri}, ${JSON.stringify(target.range)} (${target.requested})`);
    ctx.regions.show(uri, target.range, `working on ${requestedLabel(target)}`);
    const result = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `DiffCoder: ${instruction}`, cancellable: true },
        async (progress, token) => {
            const source = new vscode.CancellationTokenSource();
            token.onCancellationRequested(() => source.cancel());
            const onRegion = (report: lsp_ext.RegionReport) => {
                if (report.textDocument.uri !== uri) return;
                ctx.regions.show(uri, report.region.range, `working on ${describeRegion(report.region)}`);
            };
            ctx.activeEdit = { uri, progress, reported: 0, cancel: source, onRegion };
            progress.report({ message: 'waiting for the model…' });
            try {
                return await ctx.requestEdit({ textDocument: { uri, version }, range: target.range, instruction }, source.token);
            } catch (error) {
                void notify('error', `DiffCoder: ${error instanceof Error ? error.message : String(error)}`);
                return undefined;
            } finally {
                ctx.activeEdit = undefined;
                source.dispose();
            }
        },
    );
    if (!result) return ctx.regions.clear();
    const where = describeRegion(result.region);
    if (document.version !== version && result.outcome !== 'cancelled') {
        ctx.regions.clear();
        void notify('warning', 'DiffCoder: the document changed while the edit was computed; ask again.');
        return;
    }
    if (result.outcome === 'refused') return refused(ctx, target, result, where);
    const edits = result.edit ? editsFor(result.edit, uri).edits : [];
    if (result.outcome !== 'proposed' || edits.length === 0) {
        ctx.regions.clear();
        const why = result.detail ?? 'the model proposed no change';
        void notify('warning', `DiffCoder: no edit for ${where}. ${why}`);
        return;
    }
    const proposal = await ctx.proposals.show(document, edits, instruction, { region: where });
    ctx.regions.show(uri, result.region.range, `${where}: the proposed change is open`);
    const seconds = (result.stats.modelSeconds + result.stats.serverSeconds).toFixed(1);
    const choice = await notify(
        'info',
        `DiffCoder proposes a change to ${where}: ${result.region.reason} (${result.stats.generatedTokens} tokens, ${seconds} s)`,
        'Accept',
        'Reject',
    );
    if (ctx.proposals.current !== proposal) return; // accepted or rejected from the editor title
    if (choice === 'Accept') await ctx.proposals.accept(proposal);
    else if (choice === 'Reject') await ctx.proposals.reject(proposal);
}

/** The refused answer: why, in full, in a dialog; "Show anyway" opens it as a diff marked as
 *  refused (Accept still works: the user has read why). */
async function refused(ctx: Ctx, target: EditTarget, result: lsp_ext.EditReply, where: string): Promise<void> {
    const why = result.detail ?? result.rejected ?? result.reason ?? 'the server gave no reason';
    const buttons = result.proposal !== null ? [SHOW_ANYWAY, SHOW_LOG] : [SHOW_LOG];
    const detail = `${why}\n\nRegion: ${where}. ${result.region.reason}\nInstruction: ${target.instruction}`;
    const choice = await explain('warning', `DiffCoder refused its answer for ${where}`, detail, ...buttons);
    if (choice === SHOW_LOG) ctx.log.show();
    if (choice !== SHOW_ANYWAY || result.proposal === null) return ctx.regions.clear();
    const edits: TextEdit[] = [{ range: result.proposalRange ?? result.region.range, newText: result.proposal }];
    const uri = target.document.uri.toString();
    const reason = (result.finishReason === 'length' ? 'did not end' : why).split(/[.;:]/)[0].slice(0, 60);
    await ctx.proposals.show(target.document, edits, target.instruction, { region: where, refused: reason });
    ctx.regions.show(uri, result.region.range, `${where}: the REFUSED answer is open`);
    void notify('warning', `DiffCoder: showing the refused answer for ${where}. ${why}`, 'Accept', 'Reject').then(async (answer) => {
        if (answer === 'Accept') await ctx.proposals.accept();
        else if (answer === 'Reject') await ctx.proposals.reject();
    });
}
