use tracing_subscriber::EnvFilter;

fn main() -> std::process::ExitCode {
    let cli = maillage::cli::parse_fr();
    let quiet = !matches!(
        cli.command,
        maillage::cli::Command::Serve | maillage::cli::Command::Demo(_)
    );
    // A client command whose output is closed (`… | head`) ends quietly, as
    // every Unix tool does, instead of panicking on the broken pipe. SIGPIPE
    // stays ignored (Rust's default): the gRPC client writes to sockets too,
    // and a node that closes the connection (a TLS port, say) must give an
    // error that says what to fix, not kill the command. Only stdout closing
    // ends the command, here, with success.
    let client = quiet && !matches!(cli.command, maillage::cli::Command::Bench(_));
    if client {
        let default_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if maillage::cli::output::is_closed_stdout(info.payload_as_str()) {
                std::process::exit(0);
            }
            default_hook(info);
        }));
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
