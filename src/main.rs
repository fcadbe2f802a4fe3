// mimalloc: the pipeline allocates many small strings across threads; glibc malloc spends a
// tenth of a run in malloc/free and consolidation (see README, Performance). It asks for
// transparent huge pages on its arenas; the offline `attribute` restarts itself without them
// (`attrsync::memory`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    attrsync::cli::main()
}
