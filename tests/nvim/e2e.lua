-- Headless Neovim end to end: opens a broken nanokit.yml through the real plugin and
-- server, waits for diagnostics, asks for a completion, and writes what it saw as JSON
-- to $NANOKIT_E2E_OUT. The Rust test asserts on that file.
local out = os.getenv("NANOKIT_E2E_OUT")
local file = os.getenv("NANOKIT_E2E_FILE")
local result = { diagnostics = {}, completion = {}, errors = {} }

local function finish()
  local f = io.open(out, "w")
  f:write(vim.fn.json_encode(result))
  f:close()
  vim.cmd("qall!")
end

local ok, err = pcall(function()
  require("nanokit").setup({ cmd = { os.getenv("NANOKIT_LSP") } })
  vim.cmd("edit " .. file)
  local bufnr = vim.api.nvim_get_current_buf()
  local got = vim.wait(15000, function()
    return #vim.diagnostic.get(bufnr) > 0
  end, 50)
  if not got then
    table.insert(result.errors, "no diagnostics within 15 s")
  end
  for _, d in ipairs(vim.diagnostic.get(bufnr)) do
    table.insert(result.diagnostics, { lnum = d.lnum, col = d.col, message = d.message, code = d.code })
  end
  -- completion of the provider value on the `provider:` line
  local line = nil
  for i, l in ipairs(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)) do
    if l:find("provider:") then
      line = i - 1
    end
  end
  local text = vim.api.nvim_buf_get_lines(bufnr, line, line + 1, false)[1]
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(bufnr) },
    position = { line = line, character = #text },
  }
  local responses = vim.lsp.buf_request_sync(bufnr, "textDocument/completion", params, 10000) or {}
  for _, r in pairs(responses) do
    local items = r.result and (r.result.items or r.result) or {}
    for _, item in ipairs(items) do
      table.insert(result.completion, item.label)
    end
  end
end)
if not ok then
  table.insert(result.errors, tostring(err))
end
finish()
