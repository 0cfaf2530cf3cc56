//! Standard output of every command. A reader that goes away (`iommufuzz list | head`) ends
//! the command quietly with status 0, as `head` and a pager expect: no panic, no backtrace,
//! nothing more written. Other write errors are ignored, as a terminal that cannot take the
//! report leaves the verdict in the exit status.

use std::io::{ErrorKind, Write};

/// Writes `s` to stdout.
pub fn out(s: &str) {
    let mut o = std::io::stdout().lock();
    if let Err(e) = o.write_all(s.as_bytes()).and_then(|()| o.flush()) {
        if e.kind() == ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
    }
}

/// `println!` through [`out`].
#[macro_export]
macro_rules! outln {
    ($($t:tt)*) => {
        $crate::cli::out::out(&format!("{}\n", format_args!($($t)*)))
    };
}
