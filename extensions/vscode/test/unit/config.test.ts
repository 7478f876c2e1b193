import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { affectsLive, currentConfig, needsRestart, readConfig, RESTART_KEYS, serverSettings } from '../../src/config';
import { state } from './fake_vscode';

const manifest = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '..', 'package.json'), 'utf8'));
const properties: Record<string, { default: unknown }> = manifest.contributes.configuration.properties;

test('defaults of the manifest and of readConfig agree, key by key', () => {
    const seen: string[] = [];
    const config = readConfig(<T>(key: string, fallback: T) => {
        seen.push(key);
        const declared = properties[`diffcoder.${key}`];
        assert.ok(declared, `diffcoder.${key} is read but not contributed`);
        if (key !== 'edit.instructions') assert.deepEqual(fallback, declared.default, key);
        return fallback;
    });
    assert.deepEqual(seen.map((k) => `diffcoder.${k}`).sort(), Object.keys(properties).sort());
    assert.equal(config.quant, 'auto');
});

test('serverSettings: camelCase sections, empty model path and instructions left to the server', () => {
    const settings = serverSettings(readConfig((_key, fallback) => fallback));
    assert.equal('modelPath' in settings, false);
    assert.deepEqual(Object.keys(settings).sort(), ['completion', 'context', 'device', 'edit', 'inline', 'quant']);
    assert.equal('instructions' in (settings.edit as object), false);
    assert.deepEqual(settings.inline, { enabled: true, debounceMs: 150, maxNewTokens: 64, stopAt: 'block' });
    assert.equal('codeActions' in settings, false); // the extension's own setting
    const withModel = serverSettings(readConfig((_key, fallback) => fallback), '/models/sdc');
    assert.equal(withModel.modelPath, '/models/sdc');
});

test('with a team server (server.url) no model path is sent: the server has no local model', () => {
    const config = { ...readConfig((_key, fallback) => fallback), serverUrl: 'http://gpu-box:8765' };
    assert.equal('modelPath' in serverSettings(config, '/models/sdc'), false);
});

test('launch settings are window-scoped, so User values hold in remote windows at every restart', () => {
    // VS Code drops machine(-overridable) User values from a remote window's settings once it
    // re-reads them (after any change), which made a restart launch python3
    for (const key of RESTART_KEYS) {
        const scope = (properties[`diffcoder.${key}`] as { scope?: string }).scope;
        assert.ok(scope === undefined || scope === 'window', `diffcoder.${key} has scope ${scope}`);
    }
    const restricted: string[] = manifest.capabilities.untrustedWorkspaces.restrictedConfigurations;
    for (const key of ['server.python', 'server.path', 'server.args', 'server.env', 'server.url', 'modelPath']) {
        assert.ok(restricted.includes(`diffcoder.${key}`), key);
    }
});

test('currentConfig reads the diffcoder section and cleans its values', () => {
    state.reset();
    state.config.set('diffcoder.modelPath', '  /m  ');
    state.config.set('diffcoder.device', '');
    state.config.set('diffcoder.server.args', ['-v', 3, '--log-file', 'x']);
    state.config.set('diffcoder.server.env', { A: '1', B: 2 });
    state.config.set('diffcoder.edit.rejectSyntaxErrors', false);
    const config = currentConfig();
    assert.equal(config.modelPath, '/m');
    assert.equal(config.device, 'auto');
    assert.deepEqual(config.serverArgs, ['-v', '--log-file', 'x']);
    assert.deepEqual(config.serverEnv, { A: '1' });
    assert.equal((serverSettings(config).edit as { rejectSyntaxErrors: boolean }).rejectSyntaxErrors, false);
});

test('which changes restart the server and which are sent live', () => {
    const event = (...keys: string[]) => ({ affectsConfiguration: (s: string) => keys.some((k) => k === s || k.startsWith(`${s}.`)) });
    for (const key of RESTART_KEYS) assert.equal(needsRestart(event(`diffcoder.${key}`)), true, key);
    assert.equal(needsRestart(event('diffcoder.edit.threshold')), false);
    assert.equal(affectsLive(event('diffcoder.edit.threshold')), true);
    assert.equal(affectsLive(event('diffcoder.inline.enabled')), true);
    assert.equal(affectsLive(event('editor.fontSize')), false);
    assert.equal(needsRestart(event('editor.fontSize')), false);
});
