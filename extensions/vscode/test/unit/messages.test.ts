import { beforeEach, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { notify, SHOW_DETAILS, summarize, TOAST_CHARS } from '../../src/messages';
import { describeRegion, lineSpan } from '../../src/region';
import { openSettingsCommand } from '../../src/config';
import { state } from './fake_vscode';

beforeEach(() => state.reset());

test('summarize keeps a short message whole, else its first sentence or first words', () => {
    assert.deepEqual(summarize('Short.'), { text: 'Short.', cut: false });
    const long = `The model's answer did not end within its budget. ${'More words here. '.repeat(20)}`;
    assert.deepEqual(summarize(long), { text: "The model's answer did not end within its budget.", cut: true });
    const run = 'word '.repeat(60);
    const { text, cut } = summarize(run);
    assert.ok(cut && text.endsWith('…') && text.length <= TOAST_CHARS, text);
});

test('a long message gets "Show details", which shows all of it in a modal dialog', async () => {
    const long = `DiffCoder: the model directory "/x" does not exist. ${'Set diffcoder.modelPath to a checkpoint directory. '.repeat(4)}`;
    state.answers.push(SHOW_DETAILS, 'Open Settings');
    assert.equal(await notify('error', long, 'Open Settings'), 'Open Settings');
    assert.deepEqual(state.messages[0].items, ['Open Settings', SHOW_DETAILS]);
    assert.equal(state.messages[0].text, 'DiffCoder: the model directory "/x" does not exist.');
    assert.equal(state.messages[1].modal, true);
    assert.equal(state.messages[1].detail, long);
    await notify('info', 'short');
    assert.deepEqual(state.messages[2].items, []);
});

test('regions are named by kind, name and 1-based lines (an end at column 0 leaves its line out)', () => {
    const range = (a: number, b: number, c: number, d: number) => ({ start: { line: a, character: b }, end: { line: c, character: d } });
    assert.deepEqual(lineSpan(range(0, 0, 5, 0)), { first: 1, last: 5 });
    assert.deepEqual(lineSpan(range(8, 0, 8, 14)), { first: 9, last: 9 });
    assert.equal(describeRegion({ range: range(0, 0, 5, 0), kind: 'function', name: 'mean' }), 'function mean (lines 1–5)');
    assert.equal(describeRegion({ range: range(0, 0, 179, 0), kind: 'file', name: null }), 'the whole file (lines 1–179)');
    assert.equal(describeRegion({ range: range(8, 0, 9, 0), kind: 'selection', name: null }), 'line 9');
});

test('Open Settings: the Remote tab in a remote window (code-server), else the User one', () => {
    assert.equal(openSettingsCommand('localhost:8080'), 'workbench.action.openRemoteSettings');
    assert.equal(openSettingsCommand(undefined), 'workbench.action.openSettings');
});
