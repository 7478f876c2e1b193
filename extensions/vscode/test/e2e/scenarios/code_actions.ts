// A DiffCoder code action from the Quick Fix menu opens the same diff review as Edit Selection:
// nothing changes in the file until Accept.
import * as fs from 'fs';
import * as path from 'path';
import { SAMPLE_SOURCE as SOURCE } from '../../support/server_session';
import { WAIT_MS } from '../code_server';
import { closeDiffWith, editorFocusedOn, log, openFile, shot, World } from '../ui';

export async function codeActions(world: World): Promise<void> {
    const { page } = world;
    const file = path.join(world.workspace, 'actions.py');
    fs.writeFileSync(file, SOURCE);
    await openFile(page, 'actions.py');
    await page.keyboard.press('Control+Home');
    await page.keyboard.press('ArrowDown'); // inside `mean`
    await page.keyboard.press('Control+.');
    const action = page.locator('.action-widget .monaco-list-row', { hasText: 'DiffCoder: Add a docstring' }).first();
    await action.waitFor({ timeout: WAIT_MS });
    await shot(world, '6-code-actions', 'code-actions');
    // the keyboard, as a user would: down to the action, Enter
    const focused = page.locator('.action-widget .monaco-list-row.focused', { hasText: 'DiffCoder: Add a docstring' });
    for (let i = 0; i < 12 && (await focused.count()) === 0; i++) await page.keyboard.press('ArrowDown');
    await focused.waitFor({ timeout: WAIT_MS });
    await page.keyboard.press('Enter');
    await page.locator('.monaco-diff-editor').first().waitFor({ timeout: WAIT_MS });
    await page.locator('.tabs-container .tab.active', { hasText: 'DiffCoder: Add a docstring' }).waitFor({ timeout: WAIT_MS });
    await page.locator('.notifications-toasts', { hasText: 'DiffCoder proposes a change' }).waitFor({ timeout: WAIT_MS });
    if (fs.readFileSync(file, 'utf8') !== SOURCE) throw new Error('the code action changed the file before Accept');
    await shot(world, '6b-code-action-diff');
    await closeDiffWith(page, 'Reject');
    await editorFocusedOn(page, 'actions.py');
    if ((await page.locator('.tabs-container .tab.dirty').count()) !== 0) throw new Error('the code action left the document changed');
    if (fs.readFileSync(file, 'utf8') !== SOURCE) throw new Error('Reject of a code action changed the file');
    log('code actions: Quick Fix → "DiffCoder: Add a docstring" opened the diff review; Reject changed nothing');
}
