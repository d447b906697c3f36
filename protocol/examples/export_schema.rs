//! Writes the JSON Schema of every wire message into a folder (default `protocol/schema`).

use std::{env, fs, path::PathBuf, process::ExitCode};

fn main() -> ExitCode {
    let dir = PathBuf::from(
        env::args()
            .nth(1)
            .unwrap_or_else(|| "protocol/schema".into()),
    );
    if let Err(e) = fs::create_dir_all(&dir) {
        eprintln!("creating {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    for (name, text) in protocol::schema::all() {
        let path = dir.join(&name);
        if let Err(e) = fs::write(&path, text) {
            eprintln!("writing {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        eprintln!("wrote {}", path.display());
    }
    ExitCode::SUCCESS
}
