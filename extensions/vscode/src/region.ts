// The region an edit works on, highlighted in the editor while the model works and while its
// diff is open: first the requested lines (the selection, or the cursor's line), then the region
// the server chose as soon as it announces it (a `$/progress` report with `region`), and the
// chosen region of the answer. `describeRegion` and `lineSpan` are pure and unit-tested.
import * as vscode from 'vscode';
import type { Range } from 'vscode-languageserver-protocol';
import type { EditRegion } from './lsp_ext';

/** 1-based first and last line of `range` (an end at column 0 does not take in that line). */
export function lineSpan(range: Range): { first: number; last: number } {
    const first = range.start.line + 1;
    const endsAtLineStart = range.end.character === 0 && range.end.line > range.start.line;
    return { first, last: Math.max(first, endsAtLineStart ? range.end.line : range.end.line + 1) };
}

function lines(range: Range): string {
    const { first, last } = lineSpan(range);
    return first === last ? `line ${first}` : `lines ${first}–${last}`;
}

/** "function mean (lines 1–5)", "the file (lines 1–120)", "lines 3–4". */
export function describeRegion(region: Pick<EditRegion, 'range' | 'kind' | 'name'>): string {
    const where = lines(region.range);
    if (region.kind === 'file') return `the whole file (${where})`;
    if (region.kind === 'lines' || region.kind === 'selection' || !region.kind) return where;
    return `${region.kind}${region.name ? ` ${region.name}` : ''} (${where})`;
}

export class RegionHighlight implements vscode.Disposable {
    private readonly area = vscode.window.createTextEditorDecorationType({
        isWholeLine: true,
        backgroundColor: new vscode.ThemeColor('editor.rangeHighlightBackground'),
        overviewRulerColor: new vscode.ThemeColor('editorOverviewRuler.rangeHighlightForeground'),
        overviewRulerLane: vscode.OverviewRulerLane.Full,
    });
    private readonly label = vscode.window.createTextEditorDecorationType({
        after: { color: new vscode.ThemeColor('editorCodeLens.foreground'), fontStyle: 'italic', margin: '0 0 0 2em' },
    });
    private readonly subscription: vscode.Disposable;
    private shown: { uri: string; range: vscode.Range; text: string } | undefined;

    constructor() {
        this.subscription = vscode.window.onDidChangeVisibleTextEditors(() => this.render());
    }

    /** Highlight `range` of `uri` with the label `text` at the end of its first line. */
    show(uri: string, range: Range, text: string): void {
        const { first, last } = lineSpan(range);
        this.shown = { uri, range: new vscode.Range(first - 1, 0, last - 1, 0), text };
        this.render();
    }

    clear(): void {
        this.shown = undefined;
        this.render();
    }

    private render(): void {
        for (const editor of vscode.window.visibleTextEditors) {
            const mine = this.shown && editor.document.uri.toString() === this.shown.uri;
            editor.setDecorations(this.area, mine ? [this.shown!.range] : []);
            if (!mine) {
                editor.setDecorations(this.label, []);
                continue;
            }
            const line = editor.document.lineAt(Math.min(this.shown!.range.start.line, editor.document.lineCount - 1)).range;
            const after = { contentText: `◀ DiffCoder: ${this.shown!.text}` };
            editor.setDecorations(this.label, [{ range: line, renderOptions: { after } }]);
        }
    }

    dispose(): void {
        this.subscription.dispose();
        this.area.dispose();
        this.label.dispose();
    }
}
