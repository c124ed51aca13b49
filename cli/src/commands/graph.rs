//! `nkdev graph`: start levels and edges, or Graphviz DOT.

use crate::args::{FileArgs, GraphFormat};
use anyhow::Result;

pub fn run(format: GraphFormat, common: &FileArgs) -> Result<u8> {
    let loaded = super::load_valid(common)?;
    let env = common.env();
    let Some(resolved) = loaded.analysis.environment(env) else { anyhow::bail!("environment `{env}` is not defined") };
    match format {
        GraphFormat::Dot => print!("{}", resolved.graph.to_dot(&format!("{}-{env}", resolved.resolved.project))),
        GraphFormat::Text => {
            for (i, level) in resolved.graph.levels.iter().enumerate() {
                println!("level {i}: {}", level.join(", "));
            }
            for (from, deps) in &resolved.graph.edges {
                for to in deps {
                    println!("{from} -> {to}");
                }
            }
        }
    }
    Ok(crate::exit::OK)
}
