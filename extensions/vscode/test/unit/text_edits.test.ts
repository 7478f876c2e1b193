import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { applyTextEdits, editedEnd, editsFor } from '../../src/text_edits';

const range = (a: number, b: number, c: number, d: number) => ({ start: { line: a, character: b }, end: { line: c, character: d } });

test('applies several edits given in any order', () => {
    const text = 'def f(x):\n    return x\n';
    const out = applyTextEdits(text, [
        { range: range(1, 11, 1, 12), newText: 'x + 1' },
        { range: range(0, 4, 0, 5), newText: 'g' },
    ]);
    assert.equal(out, 'def g(x):\n    return x + 1\n');
});

test('UTF-16 columns on a line with emoji and CJK, CRLF line ends, insertions at the end', () => {
    const text = 's = "😀数"; t = 1\r\nu = 2';
    // "😀" is two UTF-16 units: `t` is at column 11
    assert.equal(applyTextEdits(text, [{ range: range(0, 11, 0, 12), newText: 'v' }]), 's = "😀数"; v = 1\r\nu = 2');
    assert.equal(applyTextEdits(text, [{ range: range(1, 0, 1, 1), newText: 'w' }]), 's = "😀数"; t = 1\r\nw = 2');
    assert.equal(applyTextEdits(text, [{ range: range(5, 0, 5, 0), newText: '\n' }]), text + '\n');
    // a column past the end of a line stops before its line break
    assert.equal(applyTextEdits(text, [{ range: range(0, 99, 0, 99), newText: '!' }]), 's = "😀数"; t = 1!\r\nu = 2');
});

test('overlapping edits are an error', () => {
    assert.throws(() => applyTextEdits('abcdef', [
        { range: range(0, 0, 0, 3), newText: '' },
        { range: range(0, 2, 0, 4), newText: '' },
    ]));
});

test('editsFor reads documentChanges (with the version) and changes', () => {
    const e = { range: range(0, 0, 0, 1), newText: 'x' };
    assert.deepEqual(editsFor({ documentChanges: [{ textDocument: { uri: 'file:///a.py', version: 4 }, edits: [e] }] }, 'file:///a.py'), { edits: [e], version: 4 });
    assert.deepEqual(editsFor({ changes: { 'file:///a.py': [e] } }, 'file:///a.py'), { edits: [e], version: null });
    assert.deepEqual(editsFor({ changes: { 'file:///b.py': [e] } }, 'file:///a.py'), { edits: [], version: null });
});

test('editedEnd: where the cursor goes after Accept, the end of the last change in the new text', () => {
    const text = 'def f(x):\n    return x\n\nprint(f(1))\n';
    // the function replaced by three lines: the cursor lands after them
    const body = 'def f(x):\n    """Double."""\n    return 2 * x\n';
    assert.deepEqual(editedEnd(text, [{ range: range(0, 0, 2, 0), newText: body }]), { line: 3, character: 0 });
    // two edits on one line: the second one's end moves with the first one's change
    assert.deepEqual(editedEnd('a = 1; b = 2', [{ range: range(0, 7, 0, 8), newText: 'bee' }, { range: range(0, 0, 0, 1), newText: 'alpha' }]), { line: 0, character: 14 });
    // a deletion: the cursor at the place of the deleted text
    assert.deepEqual(editedEnd(text, [{ range: range(0, 0, 3, 0), newText: '' }]), { line: 0, character: 0 });
    assert.deepEqual(editedEnd(text, []), { line: 0, character: 0 });
});
