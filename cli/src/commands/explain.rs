//! `nkdev explain NK040`: the rule's long explanation with its examples; without a code, the
//! table of all codes; with `--markdown`, docs/rules.md. The text is the core's
//! (`core/rules/*.md`); only the terminal layout is made here.

use crate::args::ColorChoice;
use anyhow::Result;
use nanokit_core::rules::{self, Example};
use nanokit_core::Code;
use std::io::IsTerminal;

pub fn run(code: Option<&str>, markdown: bool, color: ColorChoice) -> Result<u8> {
    if markdown {
        println!("{}", rules::markdown());
        return Ok(crate::exit::OK);
    }
    match code {
        None => {
            for c in Code::ALL {
                println!("{}  {:<7}  {}", c.as_str(), c.default_severity().as_str(), c.summary());
            }
            Ok(crate::exit::OK)
        }
        Some(wanted) => match Code::ALL.iter().find(|c| c.as_str().eq_ignore_ascii_case(wanted)) {
            Some(c) => {
                let color = crate::render::use_color(color, std::io::stdout().is_terminal());
                print!("{}", terminal(*c, color));
                Ok(crate::exit::OK)
            }
            None => Err(crate::load::UsageError(format!("unknown code `{wanted}`; `nkdev explain` lists them")).into()),
        },
    }
}

/// The document laid out for a terminal: headings in bold, examples indented like a man page.
pub fn terminal(code: Code, color: bool) -> String {
    let doc = code.doc();
    let bold = |s: &str| if color { format!("\x1b[1m{s}\x1b[0m") } else { s.to_string() };
    let mut out = format!("{} {}\n\n", bold(&format!("{code} ({}):", code.default_severity().as_str())), code.summary());
    out.push_str(&format!("{}\n{}\n\n", bold("Why it matters"), indent(&doc.why)));
    for (title, example) in [("Example", &doc.example), ("Fixed", &doc.fixed)] {
        out.push_str(&format!("{}\n{}", bold(title), example_text(example)));
    }
    match &doc.fix_safety {
        Some(f) => out.push_str(&format!(
            "{}\n{}\n\n",
            bold("Fix safety"),
            indent(&format!("{}. {}", if f.safe { "Safe" } else { "Unsafe" }, f.why))
        )),
        None => out.push_str(&format!("{}\n  none: the editor offers no automatic fix for this rule.\n\n", bold("Fix safety"))),
    }
    out
}

fn example_text(example: &Example) -> String {
    let mut out = String::new();
    let notes = format!("{}{}", example.prose, rules::example_notes(example));
    if !notes.trim().is_empty() {
        out.push_str(&indent(notes.trim()));
        out.push_str("\n\n");
    }
    for file in &example.files {
        if example.files.len() > 1 || file.path != "nanokit.yml" {
            out.push_str(&format!("  {}:\n", file.path));
        }
        for line in file.text.lines() {
            out.push_str(&format!("      {line}\n"));
        }
        out.push('\n');
    }
    out
}

/// Markdown prose as the terminal shows it: two spaces in, backticks kept (they read well).
fn indent(text: &str) -> String {
    text.lines().map(|l| if l.is_empty() { String::new() } else { format!("  {l}") }).collect::<Vec<_>>().join("\n")
}
