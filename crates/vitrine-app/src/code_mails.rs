//! The code mails asked for and not yet sent: what `crate::accounts` queues for its worker, so
//! that a request for a code answers alike whether the address is registered or not.

/// A code mail asked for: a new sign-up confirmation code, or a password reset code, to the
/// (normalised) address.
#[derive(Debug)]
pub(crate) enum CodeMail {
    SignUp(String),
    Reset(String),
}

/// How many code mails may wait for the worker before requests send their own.
pub(crate) const CODE_MAIL_QUEUE: usize = 256;
