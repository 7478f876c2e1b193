// A missing model directory: the settings change restarts the server, the error names the
// setting; Edit Selection then says why before asking for an instruction and offers Restart and
// Open Settings, which opens the settings on the Remote tab.
import * as path from 'path';
import { WAIT_MS } from '../code_server';
import { clickNotificationButton, closeSettings, log, runCommand, setRemoteSetting, shot, toast, World } from '../ui';

export async function serverDown(world: World): Promise<void> {
    const { page } = world;
    await setRemoteSetting(page, 'diffcoder.modelPath', 'Model Path', path.join(world.root, 'no-such-model'));
    const missing = toast(page, 'does not exist');
    await missing.waitFor({ timeout: WAIT_MS });
    await page.locator('.statusbar-item[aria-label^="DiffCoder error"]').waitFor({ timeout: WAIT_MS });
    await shot(world, '8-missing-model', 'missing-model');
    await closeSettings(page);
    await page.keyboard.press('Escape');

    await page.locator('.editor-instance .monaco-editor .view-lines').first().click();
    await runCommand(page, 'DiffCoder: Edit Selection');
    const down = toast(page, 'cannot edit now');
    await down.waitFor({ timeout: WAIT_MS });
    if ((await page.locator('.quick-input-widget .quick-input-title', { hasText: 'DiffCoder: Edit Selection' }).count()) !== 0) {
        throw new Error('the instruction picker opened while the server is down');
    }
    for (const label of ['Restart', 'Open Settings']) await down.locator('.monaco-button', { hasText: new RegExp(`^${label}$`) }).waitFor({ timeout: WAIT_MS });
    await shot(world, '9-server-down', 'server-down');
    await clickNotificationButton(page, 'Open Settings', down);
    await page.locator('.settings-editor .settings-tabs-widget .action-label.checked', { hasText: 'Remote' }).waitFor({ timeout: WAIT_MS });
    await page.locator('.settings-editor .setting-item-contents', { hasText: 'Diffcoder' }).first().waitFor({ timeout: WAIT_MS });
    await shot(world, '9b-settings');
    log('server down: Edit Selection said why and offered Restart / Open Settings; the Remote settings opened');
}
