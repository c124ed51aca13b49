-- nanokit.yml support for Neovim (0.7+): starts nanokit-lsp for nanokit.yml / nanokit.yaml.
local M = {}

M.config = {
  -- Command that starts the server; `nkdev lsp` works too.
  cmd = { "nanokit-lsp" },
  -- Environment that hover and inlay hints resolve.
  environment = "local",
}

local client_id = nil

local function root_dir(fname)
  local dir = vim.fn.fnamemodify(fname, ":p:h")
  return dir
end

function M.attach(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local fname = vim.api.nvim_buf_get_name(bufnr)
  if client_id == nil or vim.lsp.get_client_by_id(client_id) == nil then
    local root = root_dir(fname)
    client_id = vim.lsp.start_client({
      name = "nanokit",
      cmd = M.config.cmd,
      root_dir = root,
      workspace_folders = { { uri = vim.uri_from_fname(root), name = root } },
      init_options = { environment = M.config.environment },
    })
  end
  if client_id ~= nil then
    vim.lsp.buf_attach_client(bufnr, client_id)
  end
  return client_id
end

function M.setup(opts)
  M.config = vim.tbl_deep_extend("force", M.config, opts or {})
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
