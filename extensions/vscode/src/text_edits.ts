// Pure text work for previews: the TextEdits of one document in a WorkspaceEdit, and applying
// them to a string (LSP positions are UTF-16 code units, like JavaScript strings).
import { Position, TextEdit, WorkspaceEdit } from 'vscode-languageserver-protocol';

/** The edits a WorkspaceEdit makes to `uri` (documentChanges or changes), with the version the
 *  server computed them for when it said so. */
export function editsFor(edit: WorkspaceEdit, uri: string): { edits: TextEdit[]; version: number | null } {
    const edits: TextEdit[] = [];
    let version: number | null = null;
    for (const change of edit.documentChanges ?? []) {
        if ('textDocument' in change && change.textDocument.uri === uri) {
            edits.push(...(change.edits as TextEdit[]));
            version = change.textDocument.version ?? null;
        }
    }
    edits.push(...(edit.changes?.[uri] ?? []));
    return { edits, version };
}

function lineStarts(text: string): number[] {
    const starts = [0];
    for (let i = 0; i < text.length; i++) {
        const c = text.charCodeAt(i);
        if (c === 13 /* \r */) {
            if (text.charCodeAt(i + 1) === 10) i++;
            starts.push(i + 1);
        } else if (c === 10 /* \n */) {
            starts.push(i + 1);
        }
    }
    return starts;
}

export function offsetAt(text: string, starts: number[], position: Position): number {
    if (position.line >= starts.length) return text.length;
    const start = starts[position.line];
    const next = position.line + 1 < starts.length ? starts[position.line + 1] : text.length;
    let lineEnd = next;
    while (lineEnd > start && (text[lineEnd - 1] === '\n' || text[lineEnd - 1] === '\r')) lineEnd--;
    return Math.min(start + position.character, lineEnd);
}

/** `text` with `edits` applied; the edits must not overlap (LSP's rule). */
export function applyTextEdits(text: string, edits: readonly TextEdit[]): string {
    const starts = lineStarts(text);
    const spans = edits
        .map((e, index) => ({
            start: offsetAt(text, starts, e.range.start),
            end: offsetAt(text, starts, e.range.end),
            text: e.newText,
            index,
        }))
        .sort((a, b) => a.start - b.start || a.end - b.end || a.index - b.index);
    let out = '';
    let at = 0;
    for (const span of spans) {
        if (span.start < at) throw new Error('overlapping text edits');
        out += text.slice(at, span.start) + span.text;
        at = span.end;
    }
    return out + text.slice(at);
}

/** Where the last of `edits` ends once they are applied to `text`: the cursor after Accept. */
export function editedEnd(text: string, edits: readonly TextEdit[]): Position {
    const starts = lineStarts(text);
    let delta = 0;
    let end = -1;
    const spans = edits
        .map((e) => ({ start: offsetAt(text, starts, e.range.start), end: offsetAt(text, starts, e.range.end), text: e.newText }))
        .sort((a, b) => a.start - b.start || a.end - b.end);
    for (const span of spans) {
        end = span.start + delta + span.text.length;
        delta += span.text.length - (span.end - span.start);
    }
    if (end < 0) return { line: 0, character: 0 };
    const after = applyTextEdits(text, edits).slice(0, end);
    const lines = after.split(/\r\n|\r|\n/);
    return { line: lines.length - 1, character: lines[lines.length - 1].length };
}
