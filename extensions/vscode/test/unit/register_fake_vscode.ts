// Loaded with `node --require`: makes `require('vscode')` return the fake module.
import Module = require('module');
import * as fake from './fake_vscode';

const loader = Module as unknown as { _load(request: string, parent: unknown, isMain: boolean): unknown };
const original = loader._load;
loader._load = function (request: string, parent: unknown, isMain: boolean) {
    if (request === 'vscode') return fake;
    return original.call(this, request, parent, isMain);
};
