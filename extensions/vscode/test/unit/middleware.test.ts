import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { asLspRange, codeActionEdit, inlineCompletionParams, REVIEW_CODE_ACTION, reviewInstead } from '../../src/middleware';
import { CodeAction, Position, Range } from './fake_vscode';

const doc = { uri: 'file:///ws/a.py' };
const at = { line: 3, character: 7 };

test('inline completion: VS Code trigger kinds become LSP 3.18 ones', () => {
    assert.deepEqual(inlineCompletionParams(doc, at, { triggerKind: 0 }), {
        textDocument: doc,
        position: at,
        context: { triggerKind: 1 },
    });
    assert.equal(inlineCompletionParams(doc, at, { triggerKind: 1 }).context.triggerKind, 2);
});

test('inline completion: the selected item with a vscode.Range, or its JSON array, becomes an LSP range', () => {
    const range = { start: { line: 3, character: 4 }, end: { line: 3, character: 7 } };
    const fromRange = inlineCompletionParams(doc, at, { triggerKind: 1, selectedCompletionInfo: { range: new Range(3, 4, 3, 7), text: 'width' } });
    assert.deepEqual(fromRange.context.selectedCompletionInfo, { range, text: 'width' });
    // what vscode-languageclient 9.0.1 sends: Range.toJSON() is [start, end]
    const asArray = JSON.parse(JSON.stringify([new Position(3, 4), new Position(3, 7)]));
    assert.deepEqual(inlineCompletionParams(doc, at, { triggerKind: 1, selectedCompletionInfo: { range: asArray, text: 'width' } }).context.selectedCompletionInfo, { range, text: 'width' });
});

test('inline completion: a missing, null or malformed selected item is left out', () => {
    for (const info of [undefined, null, {}, { range: new Range(3, 4, 3, 7) }, { range: [{ line: -1, character: 0 }, at], text: 'x' }, { range: 'x', text: 'y' }]) {
        const params = inlineCompletionParams(doc, at, { triggerKind: 0, selectedCompletionInfo: info as never });
        assert.deepEqual(params.context, { triggerKind: 1 }, JSON.stringify(info));
    }
    assert.equal(asLspRange([{ line: 1.5, character: 0 }, { line: 2, character: 0 }]), undefined);
});

const data = {
    textDocument: { uri: 'file:///ws/a.py', version: 4 },
    range: { start: { line: 1, character: 0 }, end: { line: 1, character: 0 } },
    instruction: 'Add a docstring',
};

test('a DiffCoder code action is recognised by its data, or by a diffcoder.edit command', () => {
    assert.deepEqual(codeActionEdit({ data }), data);
    assert.deepEqual(codeActionEdit({ command: { command: 'diffcoder.edit', arguments: [{ ...data, apply: true }] } }), data);
    assert.equal(codeActionEdit({ data: { instruction: 'x' } }), undefined);
    assert.equal(codeActionEdit({ command: { command: 'other.command', arguments: [data] } }), undefined);
});

test('reviewInstead: a DiffCoder action runs the review command; other actions and commands stay', () => {
    const action = Object.assign(new CodeAction('DiffCoder: Add a docstring', 'refactor.rewrite'), { data, diagnostics: [] });
    const replaced = reviewInstead(action as never) as unknown as CodeAction;
    assert.notEqual(replaced, action);
    assert.equal(replaced.title, 'DiffCoder: Add a docstring');
    assert.equal(replaced.kind, 'refactor.rewrite');
    assert.deepEqual(replaced.command, { title: 'DiffCoder: Add a docstring', command: REVIEW_CODE_ACTION, arguments: [data] });
    assert.equal((replaced as unknown as { edit?: unknown }).edit, undefined);
    const other = new CodeAction('Organize imports');
    assert.equal(reviewInstead(other as never), other);
    const command = { title: 'x', command: 'y' };
    assert.equal(reviewInstead(command as never), command);
});
