use tracing_subscriber::EnvFilter;

fn main() -> std::process::ExitCode {
    let cli = maillage::cli::parse_fr();
    let quiet = !matches!(
        cli.command,
        maillage::cli::Command::Serve | maillage::cli::Command::Demo(_)
    );
    // A client command whose output is closed (`… | head`) ends quietly, as
    // every Unix tool does, instead of panicking on the broken pipe. Not for
    // the node, the demo and the benchmarks: they write to sockets.
    let client = quiet && !matches!(cli.command, maillage::cli::Command::Bench(_));
    #[cfg(unix)]
    if client {
        // SAFETY: called before any thread starts; restores the default action.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    // The demo's terminal shows its banner; its nodes' journal only on demand
    // (RUST_LOG=info), since the start of a network is noisy by nature.
    let default = match cli.command {
        maillage::cli::Command::Demo(_) => "error",
        _ if quiet => "warn",
        _ => "maillage=info,warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default)),
        )
        .with_writer(std::io::stderr)
        // No colour codes in log files and journals.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    match runtime.block_on(maillage::cli::run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("erreur : {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
