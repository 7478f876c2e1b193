// Settings read the same way at every (re)start: a change in the User settings (set in the
// Settings UI's User tab) restarts the server with the interpreter of diffcoder.server.python,
// set in the User settings too (VS Code used to drop machine-scoped User values from a remote
// window's settings once they were re-read, so the restart launched `python3`); "Open Settings"
// opens the tab where the settings apply (Remote, in code-server).
import { WAIT_MS } from '../code_server';
import { closeSettings, countInLog, log, readyStatus, runCommand, setSetting, shot, waitForLog, World } from '../ui';

export async function settings(world: World): Promise<void> {
    const { page } = world;
    const starting = `[info] starting ${world.python} `;
    const before = countInLog(world, starting);
    // the same checkpoint, named differently: a restart key changes in the User tab
    await setSetting(page, 'User', 'diffcoder.modelPath', 'Model Path', `${world.finishing}/`);
    await closeSettings(page);
    await waitForLog(world, 'a restart with the configured interpreter', starting, before + 1);
    await readyStatus(page, 'finishing').waitFor({ timeout: WAIT_MS });
    if (countInLog(world, '[info] starting python3') > 0) throw new Error('a restart launched python3');
    log('settings: a User settings change restarted the server with diffcoder.server.python');

    await runCommand(page, 'DiffCoder: Open Settings');
    await page.locator('.settings-editor').waitFor({ timeout: WAIT_MS });
    await page.locator('.settings-editor .settings-tabs-widget .action-label.checked', { hasText: 'Remote' }).waitFor({ timeout: WAIT_MS });
    await page.locator('.settings-editor .setting-item-contents', { hasText: 'Diffcoder' }).first().waitFor({ timeout: WAIT_MS });
    await shot(world, '12-open-settings');
    await page.locator('.tabs-container .tab', { hasText: 'Settings' }).locator('.codicon-close').click();
    await page.locator('.settings-editor').waitFor({ state: 'detached', timeout: WAIT_MS });
    log('settings: Open Settings opened the Remote tab with the DiffCoder settings');
}
