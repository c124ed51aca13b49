-- Headless Neovim end to end of the live status: opens $NK_FILE through editors/nvim with
-- live_status enabled (the server is `$NK_BIN lsp`, its status command $NK_BIN), then checks the
-- code lens of service `api` follows the cluster:
--   ○ not deployed  →  `nkdev up`  →  ● running (≤ 2 s after up ends)
--                   →  `docker kill nk-<project>-<env>-api`  →  ✕ exited (≤ 2 s after the kill)
-- Writes "ok" or the failure to $NK_RESULT, the buffer with its lens titles to $NK_SCREEN, runs
-- `nkdev destroy` whatever happened, and quits.
local file = os.getenv("NK_FILE")
local bin = os.getenv("NK_BIN")
local env = os.getenv("NK_ENV") or "local"
local screen_out = os.getenv("NK_SCREEN")
local result_out = os.getenv("NK_RESULT")
local uv = vim.uv or vim.loop

local LIMIT_MS = 2000 -- from the end of the command to the lens showing the new state
local FIRST_MS = 20000 -- first status, and the extra time waited to report how late a state was
local COMMAND_MS = 600000 -- `nkdev up` may pull or build images

local bufnr = nil

local function write(path, text)
  if not path or path == "" then
    return
  end
  local f = io.open(path, "w")
  if f then
    f:write(text)
    f:close()
  end
end

local function now_ms()
  return uv.hrtime() / 1e6
end

-- The code lenses of the buffer, across Neovim versions (0.12 returns { client_id, lens }).
local function lenses()
  if not bufnr then
    return {}
  end
  local codelens = vim.lsp.codelens
  local out = {}
  if type(codelens.enable) == "function" then
    for _, item in ipairs(codelens.get({ bufnr = bufnr })) do
      table.insert(out, item.lens)
    end
  else
    for _, lens in ipairs(codelens.get(bufnr)) do
      table.insert(out, lens)
    end
  end
  -- by position, and in the server's order on the same position (table.sort is not stable)
  local index = {}
  for i, lens in ipairs(out) do
    index[lens] = i
  end
  table.sort(out, function(a, b)
    if a.range.start.line ~= b.range.start.line then
      return a.range.start.line < b.range.start.line
    end
    if a.range.start.character ~= b.range.start.character then
      return a.range.start.character < b.range.start.character
    end
    return index[a] < index[b]
  end)
  return out
end

local function title(lens)
  return lens.command and lens.command.title or "Unresolved lens ..."
end

local function lens_service(lens)
  local args = lens.command and lens.command.arguments
  local first = type(args) == "table" and args[1] or nil
  return type(first) == "table" and first.service or nil
end

-- Line (0-based) of the `api:` key under `services:`.
local function service_line(name)
  local in_services = false
  for i, l in ipairs(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)) do
    if l:match("^services:") then
      in_services = true
    elseif l:match("^%S") then
      in_services = false
    elseif in_services and l:match("^%s+" .. name .. ":%s*$") then
      return i - 1
    end
  end
  return nil
end

-- Titles of the lenses of service `name`: those on its key line, and those on any line that
-- holds a lens whose command names the service (▶ Deploy, ≡ Logs, ↻ Restart).
local function service_titles(name)
  local lines = {}
  local key = service_line(name)
  if key then
    lines[key] = true
  end
  local all = lenses()
  for _, lens in ipairs(all) do
    if lens_service(lens) == name then
      lines[lens.range.start.line] = true
    end
  end
  local titles = {}
  for _, lens in ipairs(all) do
    if lines[lens.range.start.line] then
      table.insert(titles, title(lens))
    end
  end
  return titles
end

local function api_has(text)
  for _, t in ipairs(service_titles("api")) do
    if t:find(text, 1, true) then
      return true
    end
  end
  return false
end

local function describe()
  local all = {}
  for _, lens in ipairs(lenses()) do
    table.insert(all, string.format("%d:%s", lens.range.start.line + 1, title(lens)))
  end
  local nanokit = package.loaded["nanokit"]
  return string.format(
    "api lenses: [%s]; all lenses: [%s]; workspace/codeLens/refresh received: %s",
    table.concat(service_titles("api"), " | "),
    table.concat(all, " | "),
    nanokit and tostring(nanokit.refresh_count) or "?"
  )
end

-- Waits until api's lens contains `text`. With `since` (ms, the end of `what`): fails when that
-- took over LIMIT_MS, still waiting FIRST_MS more to report how late it was.
local function wait_for(text, since, what)
  local limit = since and (LIMIT_MS + FIRST_MS) or FIRST_MS
  local got = vim.wait(limit, function()
    return api_has(text)
  end, 20)
  if not got then
    error(string.format("api's lens never showed %q within %d ms after %s; %s", text, limit, what, describe()), 0)
  end
  if since then
    local took = now_ms() - since
    if took > LIMIT_MS then
      error(string.format("api's lens showed %q %d ms after %s (limit %d ms); %s", text, took, what, LIMIT_MS, describe()), 0)
    end
    return took
  end
end

-- Runs `argv` without blocking the editor (the server keeps talking to it meanwhile).
-- Returns the exit code, the output, and the time it ended (ms).
local function run(argv, timeout)
  local output = {}
  local code, ended = nil, nil
  local function collect(_, data)
    for _, l in ipairs(data or {}) do
      if l ~= "" then
        table.insert(output, l)
      end
    end
  end
  local job = vim.fn.jobstart(argv, {
    on_stdout = collect,
    on_stderr = collect,
    on_exit = function(_, c)
      code, ended = c, now_ms()
    end,
  })
  if job <= 0 then
    return -1, "cannot start " .. argv[1], now_ms()
  end
  if not vim.wait(timeout or COMMAND_MS, function()
    return code ~= nil
  end, 20) then
    vim.fn.jobstop(job)
    return -1, table.concat(output, "\n") .. "\n(timed out)", now_ms()
  end
  -- on_exit can come before the last output
  vim.wait(100, function()
    return false
  end, 20)
  return code, table.concat(output, "\n"), ended
end

local function must(argv)
  local code, output, ended = run(argv)
  if code ~= 0 then
    error(string.format("`%s` exited with %d:\n%s", table.concat(argv, " "), code, output), 0)
  end
  return ended
end

local function project_name()
  for _, l in ipairs(vim.fn.readfile(file)) do
    local name = l:match("^name:%s*[\"']?([%w%-_%.]+)")
    if name then
      return name
    end
  end
  error("no `name:` line in " .. file, 0)
end

-- The buffer as Neovim shows it: above each line, its lens titles joined with " | ", indented
-- like the line.
local function screen()
  if not bufnr or not vim.api.nvim_buf_is_valid(bufnr) then
    return "(no buffer)\n"
  end
  local by_line = {}
  for _, lens in ipairs(lenses()) do
    local l = lens.range.start.line
    by_line[l] = by_line[l] or {}
    table.insert(by_line[l], title(lens))
  end
  local out = {}
  for i, l in ipairs(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)) do
    local titles = by_line[i - 1]
    if titles then
      table.insert(out, l:match("^%s*") .. table.concat(titles, " | "))
    end
    table.insert(out, l)
  end
  return table.concat(out, "\n") .. "\n"
end

local timings = {}
local ok, err = pcall(function()
  assert(file and bin, "NK_FILE and NK_BIN must be set")
  require("nanokit").setup({
    cmd = { bin, "lsp" },
    environment = env,
    live_status = { enable = true, command = bin },
  })
  vim.cmd("edit " .. vim.fn.fnameescape(file))
  bufnr = vim.api.nvim_get_current_buf()
  assert(service_line("api"), "no service `api` in " .. file)
  local container = string.format("nk-%s-%s-api", project_name(), env)

  wait_for("not deployed", nil, "opening the file")
  local up_end = must({ bin, "up", "--env", env, "-f", file })
  timings.running = wait_for("running", up_end, "`nkdev up` ended")
  local kill_end = must({ "docker", "kill", container })
  timings.exited = wait_for("exited", kill_end, "`docker kill " .. container .. "` ended")
end)

local message = ok and "ok" or tostring(err)
local captured, text = pcall(screen)
write(screen_out, captured and text or ("(screen capture failed: " .. tostring(text) .. ")\n"))

local cleaned, code, output = pcall(function()
  local c, o = run({ bin, "destroy", "--env", env, "-f", file })
  return c, o
end)
if not cleaned then
  message = message .. "\ncleanup failed: " .. tostring(code)
elseif code ~= 0 then
  message = message .. string.format("\ncleanup: `nkdev destroy` exited with %d:\n%s", code, output)
end
write(result_out, message)
if ok and timings.running then
  io.stderr:write(string.format("lens.lua: running after %d ms, exited after %d ms\n", timings.running, timings.exited or -1))
end
vim.cmd("qall!")
