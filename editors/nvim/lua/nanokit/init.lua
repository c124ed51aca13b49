-- nanokit.yml support for Neovim (0.7+): starts nanokit-lsp for nanokit.yml / nanokit.yaml.
local M = {}

M.config = {
  -- Command that starts the server; `nkdev lsp` works too.
  cmd = { "nanokit-lsp" },
  -- Environment that hover, inlay hints and live status resolve.
  environment = "local",
  -- Live cluster status: code lenses above each service (● running, ✕ exited, ○ not deployed…)
  -- with ▶ Deploy, ≡ Logs and ↻ Restart, from `nkdev status --watch`.
  live_status = {
    enable = false,
    -- Also watch services deployed to AWS (costs API calls).
    aws = false,
    -- Path of the nkdev executable the server runs.
    command = "nkdev",
  },
}

-- Number of workspace/codeLens/refresh requests the server sent (for tests and :lua print()).
M.refresh_count = 0

local client_id = nil
local lens_buffers = {} -- bufnr -> true once code lenses are set up for it
local lens_seq = {} -- bufnr -> number of the latest textDocument/codeLens request sent

local function root_dir(fname)
  local dir = vim.fn.fnamemodify(fname, ":p:h")
  return dir
end

-- Neovim 0.12 manages code lenses itself (vim.lsp.codelens.enable: automatic requests,
-- workspace/codeLens/refresh, virtual lines above the service). Older versions need a request
-- on the events below and a handler for the refresh the server sends.
local function builtin_lens()
  return type(vim.lsp.codelens.enable) == "function"
end

-- client:request from 0.11 on (the dot form is deprecated there), client.request before.
local function request(client, method, params, handler, bufnr)
  if vim.fn.has("nvim-0.11") == 1 then
    return client:request(method, params, handler, bufnr)
  end
  return client.request(method, params, handler, bufnr)
end

local function supports_lens(client)
  return client ~= nil and client.server_capabilities ~= nil and client.server_capabilities.codeLensProvider ~= nil
end

-- Asks the server for the lenses of `bufnr` and shows them. Only the answer to the latest request
-- is shown, so a slow answer cannot bring back a state the server already left.
function M.refresh_lenses(bufnr)
  if builtin_lens() or not vim.api.nvim_buf_is_loaded(bufnr) then
    return
  end
  local client = client_id and vim.lsp.get_client_by_id(client_id)
  if not supports_lens(client) or not client.initialized then
    return
  end
  local seq = (lens_seq[bufnr] or 0) + 1
  lens_seq[bufnr] = seq
  local params = { textDocument = { uri = vim.uri_from_bufnr(bufnr) } }
  request(client, "textDocument/codeLens", params, function(err, result, ctx, config)
    if lens_seq[bufnr] ~= seq or not vim.api.nvim_buf_is_loaded(bufnr) then
      return
    end
    ctx = ctx or {}
    ctx.bufnr = bufnr
    ctx.client_id = ctx.client_id or client.id
    vim.lsp.codelens.on_codelens(err, result, ctx, config)
  end, bufnr)
end

local function enable_lenses(client, bufnr)
  if not (M.config.live_status or {}).enable or lens_buffers[bufnr] or not supports_lens(client) then
    return
  end
  lens_buffers[bufnr] = true
  if builtin_lens() then
    vim.lsp.codelens.enable(true, { bufnr = bufnr })
    return
  end
  local group = vim.api.nvim_create_augroup("nanokit_lens_" .. bufnr, { clear = true })
  vim.api.nvim_create_autocmd({ "BufEnter", "InsertLeave", "CursorHold", "BufWritePost" }, {
    group = group,
    buffer = bufnr,
    callback = function()
      M.refresh_lenses(bufnr)
    end,
  })
  vim.api.nvim_create_autocmd({ "BufWipeout", "BufUnload" }, {
    group = group,
    buffer = bufnr,
    callback = function()
      lens_buffers[bufnr] = nil
      lens_seq[bufnr] = nil
      pcall(vim.api.nvim_del_augroup_by_id, group)
    end,
  })
  M.refresh_lenses(bufnr)
end

-- workspace/codeLens/refresh: the live status changed (the server debounces it).
local function on_lens_refresh(err, result, ctx, config)
  M.refresh_count = M.refresh_count + 1
  if builtin_lens() then
    local default = vim.lsp.handlers["workspace/codeLens/refresh"]
    if default then
      return default(err, result, ctx, config)
    end
    return vim.NIL
  end
  for bufnr in pairs(lens_buffers) do
    M.refresh_lenses(bufnr)
  end
  return vim.NIL
end

-- window/showDocument (how `≡ Logs` shows its output) for Neovim versions without a handler.
local function on_show_document(_, params)
  local uri = params and params.uri
  if not uri or params.external or not uri:match("^file:") then
    return { success = false }
  end
  local previous = vim.api.nvim_get_current_win()
  local ok = pcall(vim.cmd, "split " .. vim.fn.fnameescape(vim.uri_to_fname(uri)))
  if ok and params.selection then
    local pos = params.selection.start
    pcall(vim.api.nvim_win_set_cursor, 0, { pos.line + 1, pos.character })
  end
  if ok and params.takeFocus == false then
    vim.api.nvim_set_current_win(previous)
  end
  return { success = ok }
end

-- Neovim 0.7 has no window/showDocument handler (and declares no support): we bring ours.
local function own_show_document()
  return vim.lsp.handlers["window/showDocument"] == nil
end

local function capabilities()
  local caps = vim.lsp.protocol.make_client_capabilities()
  caps.workspace = caps.workspace or {}
  caps.workspace.codeLens = vim.tbl_extend("force", caps.workspace.codeLens or {}, { refreshSupport = true })
  if own_show_document() then
    caps.window = caps.window or {}
    caps.window.showDocument = { support = true }
  end
  return caps
end

local function handlers()
  local h = { ["workspace/codeLens/refresh"] = on_lens_refresh }
  if own_show_document() then
    h["window/showDocument"] = on_show_document
  end
  return h
end

function M.attach(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local fname = vim.api.nvim_buf_get_name(bufnr)
  if client_id == nil or vim.lsp.get_client_by_id(client_id) == nil then
    local root = root_dir(fname)
    local live = M.config.live_status or {}
    client_id = vim.lsp.start_client({
      name = "nanokit",
      cmd = M.config.cmd,
      root_dir = root,
      workspace_folders = { { uri = vim.uri_from_fname(root), name = root } },
      capabilities = capabilities(),
      handlers = handlers(),
      init_options = {
        environment = M.config.environment,
        liveStatus = {
          enable = live.enable == true,
          aws = live.aws == true,
          command = live.command or "nkdev",
        },
      },
      -- Runs once the server is initialized, for each buffer attached to it.
      on_attach = function(client, b)
        enable_lenses(client, b)
      end,
    })
  end
  if client_id ~= nil then
    vim.lsp.buf_attach_client(bufnr, client_id)
  end
  return client_id
end

function M.setup(opts)
  opts = vim.deepcopy(opts or {})
  if type(opts.live_status) == "boolean" then
    opts.live_status = { enable = opts.live_status }
  end
  M.config = vim.tbl_deep_extend("force", M.config, opts)
  local group = vim.api.nvim_create_augroup("nanokit", { clear = true })
  vim.api.nvim_create_autocmd({ "BufReadPost", "BufNewFile" }, {
    group = group,
    pattern = { "nanokit.yml", "nanokit.yaml" },
    callback = function(args)
      M.attach(args.buf)
    end,
  })
end

return M
