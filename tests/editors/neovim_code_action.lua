-- Headless Neovim (0.7 or 0.11) performs a DiffCoder code action through its own LSP client and
-- writes the file. Driven by tests/editors/test_neovim.py through environment variables; exits
-- with :qall! on success and :cquit N (a distinct N per failure) otherwise.

vim.g.loaded_python3_provider = 0 -- otherwise every .py buffer costs ~1 s probing Python

local env = vim.env
local file = env.DIFFCODER_FILE
local cmd = vim.fn.json_decode(env.DIFFCODER_LSP_CMD)
local wanted = env.DIFFCODER_ACTION
local expect = env.DIFFCODER_EXPECT
local line = tonumber(env.DIFFCODER_LINE or '1')
local timeout = tonumber(env.DIFFCODER_TIMEOUT_MS or '60000')
-- How long to wait for the edit to land once the action is chosen (short in the failure test).
local apply_timeout = tonumber(env.DIFFCODER_APPLY_TIMEOUT_MS or tostring(timeout))
local messages = {}

local function fail(code, why)
  io.stderr:write('neovim_code_action.lua: ' .. why .. '\n')
  if #messages > 0 then
    io.stderr:write('server messages: ' .. table.concat(messages, ' | ') .. '\n')
  end
  vim.cmd('cquit ' .. code)
end

-- 0.11 clients are objects (method syntax); 0.7 clients hold closures.
local function request_sync(client, method, params, ms, bufnr)
  if vim.fn.has('nvim-0.11') == 1 then
    return client:request_sync(method, params, ms, bufnr)
  end
  return client.request_sync(method, params, ms, bufnr)
end

local function start(bufnr)
  local config = {
    name = 'diffcoder',
    cmd = cmd,
    root_dir = vim.fn.fnamemodify(file, ':h'),
    init_options = { diffcoder = { edit = { maxNewTokens = 64 } } },
  }
  if vim.lsp.start ~= nil then
    return vim.lsp.start(config, { bufnr = bufnr })
  end
  local id = vim.lsp.start_client(config)
  if id ~= nil then
    vim.lsp.buf_attach_client(bufnr, id)
  end
  return id
end

local function run()
  local default_show = vim.lsp.handlers['window/showMessage']
  vim.lsp.handlers['window/showMessage'] = function(err, result, ctx, config)
    table.insert(messages, result and result.message or '?')
    return default_show(err, result, ctx, config)
  end

  vim.cmd('edit ' .. vim.fn.fnameescape(file))
  local bufnr = vim.api.nvim_get_current_buf()
  vim.bo[bufnr].filetype = 'python'
  local id = start(bufnr)
  if id == nil then
    return fail(2, 'the language server did not start')
  end
  local client
  local ready = vim.wait(timeout, function()
    client = vim.lsp.get_client_by_id(id)
    return client ~= nil and client.initialized == true
  end, 20)
  if not ready then
    return fail(2, 'the language server did not initialize')
  end

  -- The model loads in the background after `initialized`; wait for it so the edit is timed alone.
  local state = '?'
  local loaded = vim.wait(timeout, function()
    local answer = request_sync(client, 'diffcoder/status', vim.empty_dict(), 5000, bufnr)
    state = answer and answer.result and answer.result.model.state or '?'
    return state == 'ready' or state == 'failed'
  end, 50)
  if not loaded or state ~= 'ready' then
    return fail(3, 'the model is not ready: ' .. state)
  end

  -- The menu itself: pick the wanted action the way a user would.
  local offered = {}
  local chosen = false
  vim.ui.select = function(items, opts, on_choice)
    for i, item in ipairs(items) do
      local title = opts.format_item and opts.format_item(item)
        or (item.action and item.action.title)
        or item[2].title
      table.insert(offered, title)
      if not chosen and title:find(wanted, 1, true) then
        chosen = true
        return on_choice(item, i)
      end
    end
    return on_choice(nil, nil)
  end

  vim.api.nvim_win_set_cursor(0, { line, 4 })
  vim.lsp.buf.code_action()
  local asked = vim.wait(timeout, function()
    return #offered > 0
  end, 20)
  if not asked then
    return fail(4, 'no code actions were offered')
  end
  if not chosen then
    return fail(4, 'no action titled "' .. wanted .. '" among: ' .. table.concat(offered, ', '))
  end

  local function text()
    return table.concat(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false), '\n')
  end
  local applied = vim.wait(apply_timeout, function()
    return text():find(expect, 1, true) ~= nil
  end, 20)
  if not applied then
    return fail(5, 'the edit was not applied; the buffer is:\n' .. text())
  end
  vim.cmd('write')
  vim.cmd('qall!')
end

local ok, err = pcall(run)
if not ok then
  fail(1, 'error: ' .. tostring(err))
end
