//! `nkdev explain NK031`: what a code means; without a code, the whole table.

use anyhow::Result;
use nanokit_core::Code;

pub fn run(code: Option<&str>) -> Result<u8> {
    match code {
        None => {
            for c in Code::ALL {
                println!("{}  {:<7}  {}", c.as_str(), c.default_severity().as_str(), c.summary());
            }
            Ok(crate::exit::OK)
        }
        Some(wanted) => match Code::ALL.iter().find(|c| c.as_str().eq_ignore_ascii_case(wanted)) {
            Some(c) => {
                println!("{} ({}): {}", c.as_str(), c.default_severity().as_str(), c.summary());
                Ok(crate::exit::OK)
            }
            None => Err(crate::load::UsageError(format!("unknown code `{wanted}`; `nkdev explain` lists them")).into()),
        },
    }
}
