import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { instructionItems, remember } from '../../src/instructions';

test('remember keeps the most recent first, once, bounded', () => {
    let recent: string[] = [];
    for (const i of ['a', 'b', 'a', '  ', 'c ']) recent = remember(recent, i, 3);
    assert.deepEqual(recent, ['c', 'a', 'b']);
    assert.deepEqual(remember(['1', '2', '3'], '4', 3), ['4', '1', '2']);
});

test('what is typed comes first so Enter takes it; then recent, then suggested, without repeats', () => {
    const items = instructionItems('Add', ['Add a docstring', 'Fix it'], ['Add a docstring', 'Simplify']);
    assert.deepEqual(items.map((i) => [i.label, i.description]), [
        ['Add', 'new instruction'],
        ['Add a docstring', 'recent'],
        ['Fix it', 'recent'],
        ['Simplify', 'suggested'],
    ]);
    assert.equal(instructionItems('', [], [])[0], undefined);
});
