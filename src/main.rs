//! The `iommufuzz` binary.

fn main() {
    std::process::exit(iommufuzz::cli::main());
}
