vim.filetype = vim.filetype or {}
vim.cmd([[autocmd BufRead,BufNewFile nanokit.yml,nanokit.yaml setfiletype yaml]])
