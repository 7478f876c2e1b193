import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { statusView } from '../../src/status';

test('ready shows the model and, in the tooltip, quantization and device', () => {
    const view = statusView({ kind: 'ready', path: '/models/Stable-DiffCoder-8B/', detail: '4bit on cuda:0 as requested' });
    assert.equal(view.text, '$(check) DiffCoder: Stable-DiffCoder-8B');
    assert.match(view.tooltip, /4bit on cuda:0/);
    assert.match(view.ariaLabel, /^DiffCoder ready/);
    assert.equal(view.severity, 'ok');
});

test('busy, loading, unconfigured and error', () => {
    const ready = { kind: 'ready', path: null, detail: 'cpu' } as const;
    assert.equal(statusView(ready, { count: 1, percent: 40 }).text, '$(sync~spin) DiffCoder: editing 40%');
    assert.equal(statusView({ kind: 'loading', path: '/m' }).text, '$(loading~spin) DiffCoder: loading');
    const none = statusView({ kind: 'unconfigured', detail: 'no model configured' });
    assert.equal(none.command, 'diffcoder.openSettings');
    const error = statusView({ kind: 'error', message: 'DiffCoder: boom' });
    assert.equal(error.severity, 'error');
    assert.equal(error.command, 'diffcoder.showLog');
    assert.match(error.tooltip, /boom/);
});
