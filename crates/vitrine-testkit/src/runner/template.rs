//! See [the runner](super).
