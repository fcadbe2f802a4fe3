//! Transparent huge pages: for the pipeline (and the other commands), not for the offline
//! `attribute`.
//!
//! mimalloc asks the kernel for huge pages on its arenas (`madvise`), where a run keeps its
//! tables and row chunks: the README's 1 M-person run is about an eighth faster with them (fewer
//! page faults; on a virtual machine, far fewer first touches for the host to back). `attribute`
//! holds a few tens of MB, where each touched 2 MiB region counted whole would cost more than
//! it saves: on a million distinct paths it needed two to three times its memory, more than the
//! file's size (README, Performance).

/// mimalloc's switch, read once as the process starts (it then turns huge pages off with
/// `prctl(PR_SET_THP_DISABLE)` before its first allocation).
const ALLOW_THP: &str = "MIMALLOC_ALLOW_THP";

/// Restarts this process with huge pages off, unless `MIMALLOC_ALLOW_THP` is already set (by
/// the restart, or by a user who chose). Turning them off from here would be too late: the
/// arena's first pages were touched before `main`. If the restart fails, runs on as is.
pub fn restart_without_huge_pages() {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        if std::env::var_os(ALLOW_THP).is_some() {
            return;
        }
        let Ok(exe) = std::env::current_exe() else {
            return;
        };
        let mut args = std::env::args_os();
        let mut cmd = std::process::Command::new(exe);
        if let Some(arg0) = args.next() {
            cmd.arg0(arg0);
        }
        // `exec` returns only if it failed.
        let e = cmd.args(args).env(ALLOW_THP, "0").exec();
        tracing::debug!(error = %e, "could not restart without huge pages");
    }
}
