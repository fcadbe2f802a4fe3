//! `attrsync migrate`.

use std::process::ExitCode;

use super::Context;
use crate::store::RunStore;

pub async fn execute(ctx: &Context) -> ExitCode {
    let result = async {
        let store = ctx.store_lazy().await?;
        store.migrate().await?;
        Ok::<_, anyhow::Error>(store.kind())
    }
    .await;
    match result {
        Ok(kind) => {
            println!("run store ({kind}) is up to date");
            ExitCode::SUCCESS
        }
        Err(e) => {
            crate::redact::eprint_error(&format!("{e:#}"));
            ExitCode::FAILURE
        }
    }
}
