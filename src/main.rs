// mimalloc: the pipeline allocates many small strings across threads; glibc malloc spends a
// tenth of a run in malloc/free and consolidation (see README, Performance). Built without
// transparent huge pages: with them every touched 2 MiB region counted whole, which doubled
// the peak memory of `attribute` on a million distinct paths.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    attrsync::cli::main()
}
