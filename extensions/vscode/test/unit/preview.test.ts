import { beforeEach, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { diffTitle, Proposals } from '../../src/preview';
import { document, Position, Selection, state, TabInputTextDiff, WorkspaceEdit } from './fake_vscode';

const TEXT = 'def f(x):\n    return x\n';
const EDITS = [{ range: { start: { line: 1, character: 11 }, end: { line: 1, character: 12 } }, newText: 'x * 2' }];

beforeEach(() => state.reset());

test('the diff shows the proposal; Accept applies it as one edit and closes the diff', async () => {
    const doc = document('/ws/f.py', TEXT, 7);
    state.documents.push(doc);
    const proposals = new Proposals(() => undefined);
    const proposal = await proposals.show(doc as unknown as vscode.TextDocument, EDITS, 'Double it');
    assert.equal(proposals.provideTextDocumentContent(proposal.previewUri as unknown as vscode.Uri), 'def f(x):\n    return x * 2\n');
    const diff = state.executed.find((e) => e.command === 'vscode.diff');
    assert.ok(diff);
    assert.match(String(diff.args[2]), /f\.py ↔ DiffCoder: Double it/);
    assert.deepEqual(state.executed.find((e) => e.command === 'setContext')?.args, ['diffcoder.proposalOpen', true]);

    assert.equal(await proposals.accept(), 'applied');
    assert.equal(state.applied.length, 1);
    const [[uri, edits]] = (state.applied[0] as WorkspaceEdit).entries;
    assert.equal(uri.toString(), doc.uri.toString());
    assert.equal(edits.length, 1);
    assert.equal(edits[0].newText, 'x * 2');
    // the cursor goes after the new code: no stale selection over it
    assert.deepEqual(state.editors[0].selection, new Selection(new Position(1, 16), new Position(1, 16)));
    assert.equal(state.closedTabs.length, 1);
    assert.ok((state.closedTabs[0] as { input: unknown }).input instanceof TabInputTextDiff);
    assert.equal(proposals.current, undefined);
    assert.equal(await proposals.accept(), 'none');
});

test('Accept after the document changed applies nothing and says so', async () => {
    const doc = document('/ws/f.py', TEXT, 7);
    state.documents.push(doc);
    const proposals = new Proposals(() => undefined);
    await proposals.show(doc as unknown as vscode.TextDocument, EDITS, 'Double it');
    doc.version = 8;
    assert.equal(await proposals.accept(), 'stale');
    assert.equal(state.applied.length, 0);
    assert.match(state.messages[0].text, /changed/);
});

test('Reject applies nothing; a new proposal replaces the open one', async () => {
    const doc = document('/ws/f.py', TEXT, 1);
    state.documents.push(doc);
    const proposals = new Proposals(() => undefined);
    const first = await proposals.show(doc as unknown as vscode.TextDocument, EDITS, 'one');
    const second = await proposals.show(doc as unknown as vscode.TextDocument, EDITS, 'two');
    assert.notEqual(first.id, second.id);
    assert.equal(proposals.provideTextDocumentContent(first.previewUri as unknown as vscode.Uri), '');
    assert.equal(await proposals.reject(), 'rejected');
    assert.equal(state.applied.length, 0);
    assert.equal(state.tabs.length, 0);
});

test("the diff's title names the region, and says REFUSED for a refused answer", () => {
    assert.equal(diffTitle('f.py', 'Double it', { region: 'function f (lines 1–2)' }), 'f.py ↔ DiffCoder: Double it — function f (lines 1–2)');
    assert.equal(diffTitle('f.py', 'Double it', { refused: 'did not end' }), 'f.py ↔ DiffCoder REFUSED (did not end): Double it');
    assert.match(diffTitle('f.py', 'x'.repeat(80)), /x{49}…$/);
});
