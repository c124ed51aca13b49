//! A real editor end to end: headless Neovim with editors/nvim drives nanokit-lsp.
//! Fails (never skips) when `nvim` is missing: `.ci/run` installs it.

use std::path::Path;
use std::process::Command;

#[test]
fn neovim_shows_diagnostics_and_completes_providers() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("nanokit.yml");
    std::fs::write(
        &file,
        "name: demo\nservices:\n  api:\n    image: x\n    expse: 3000\nenvironments:\n  local:\n    infra:\n      provider: ",
    )
    .unwrap();
    let out = dir.path().join("result.json");
    let status = Command::new("nvim")
        .args(["--headless", "--clean", "-n", "-i", "NONE"])
        .arg("--cmd")
        .arg(format!("set runtimepath^={}", root.join("editors/nvim").display()))
        .arg("-c")
        .arg(format!("luafile {}", root.join("tests/nvim/e2e.lua").display()))
        .env("NANOKIT_LSP", env!("CARGO_BIN_EXE_nanokit-lsp"))
        .env("NANOKIT_E2E_OUT", &out)
        .env("NANOKIT_E2E_FILE", &file)
        .status()
        .expect("`nvim` must be installed for the editor end-to-end test (apt-get install neovim; .ci/run does it)");
    assert!(status.success(), "nvim exited with {status}");
    let result: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).expect("the Lua script wrote its result")).unwrap();
    assert_eq!(result["errors"], serde_json::json!([]), "{result}");
    let diags = result["diagnostics"].as_array().unwrap();
    let typo = diags.iter().find(|d| d["code"] == "NK002").unwrap_or_else(|| panic!("{result}"));
    assert_eq!((typo["lnum"].as_u64(), typo["col"].as_u64()), (Some(4), Some(4)));
    assert!(typo["message"].as_str().unwrap().contains("did you mean `expose`?"));
    let labels: Vec<&str> = result["completion"].as_array().unwrap().iter().filter_map(|l| l.as_str()).collect();
    assert!(labels.contains(&"docker") && labels.contains(&"aws"), "{labels:?}");
}
