import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { InstructionChoice, instructionItems, remember, TYPED_PLACEHOLDER } from '../../src/instructions';

test('remember keeps the most recent first, once, bounded', () => {
    let recent: string[] = [];
    for (const i of ['a', 'b', 'a', '  ', 'c ']) recent = remember(recent, i, 3);
    assert.deepEqual(recent, ['c', 'a', 'b']);
    assert.deepEqual(remember(['1', '2', '3'], '4', 3), ['4', '1', '2']);
});

test('the "as typed" item comes first and is always shown; then recent, then suggested, without repeats', () => {
    const items = instructionItems('Add', ['Add a docstring', 'Fix it'], ['Add a docstring', 'Simplify']);
    assert.deepEqual(items.map((i) => [i.label, i.description, !!i.typed, !!i.alwaysShow]), [
        ['Add', 'run as typed', true, true],
        ['Add a docstring', 'recent', false, false],
        ['Fix it', 'recent', false, false],
        ['Simplify', 'suggested', false, false],
    ]);
    const empty = instructionItems('  ', [], []);
    assert.deepEqual(empty.map((i) => [i.label, !!i.typed]), [[TYPED_PLACEHOLDER, true]]);
});

// The events a quick pick sends, in the orders VS Code may deliver them.
const recent = { label: 'Handle the empty list', description: 'recent' };
const typed = (label: string) => ({ label, description: 'run as typed', typed: true, alwaysShow: true });

test('fast typing + Enter runs the text as typed, even when a stale list highlighted a recent item', () => {
    const choice = new InstructionChoice();
    choice.activeChanged({ label: TYPED_PLACEHOLDER, typed: true });
    // "H": VS Code filters the old list (only the placeholder and recent ones) and highlights the
    // recent item before (or after) the extension hears of the new value
    choice.activeChanged(recent);
    choice.valueChanged('H');
    choice.valueChanged('Handle the empty');
    choice.activeChanged(typed('Handle the')); // a rebuild that is already behind
    choice.activeChanged(recent);
    assert.equal(choice.accepted('Handle the empty'), 'Handle the empty');
    const other = new InstructionChoice();
    other.valueChanged('Handle');
    other.activeChanged(recent);
    assert.equal(other.accepted('Handle'), 'Handle');
});

test('moving from the up-to-date typed item to a recent one runs that one; further moves too', () => {
    const choice = new InstructionChoice();
    choice.valueChanged('Handle');
    choice.activeChanged(typed('Handle'));
    choice.activeChanged(recent); // ArrowDown
    assert.equal(choice.accepted('Handle'), 'Handle the empty list');
    choice.activeChanged({ label: 'Simplify', description: 'suggested' }); // ArrowDown again
    assert.equal(choice.accepted('Handle'), 'Simplify');
    choice.activeChanged(typed('Handle')); // back up
    assert.equal(choice.accepted('Handle'), 'Handle');
    choice.valueChanged('Handle it'); // typing again forgets the move
    assert.equal(choice.accepted('Handle it'), 'Handle it');
});

test('with nothing typed, Enter on the placeholder runs nothing; a recent item runs when moved to', () => {
    const choice = new InstructionChoice();
    choice.activeChanged({ label: TYPED_PLACEHOLDER, typed: true });
    assert.equal(choice.accepted(''), undefined);
    choice.activeChanged(recent);
    assert.equal(choice.accepted(''), 'Handle the empty list');
});
